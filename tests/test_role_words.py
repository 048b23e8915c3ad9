"""One table for how roles are said and typed (config/role_words.py)."""

from __future__ import annotations

from config.role_words import SAID, on_rota, said, typed
from handlers.rota import read_role
from storage.models import Role


def test_every_staff_role_has_words_people_read():
    assert set(SAID) == set(Role)
    assert said("out_of_hours") == "out-of-hours duty worker"
    assert said("iro") == "IRO"
    assert on_rota("out_of_hours") == "out of hours"


def test_what_people_type_for_a_role():
    for word in ("OOH", "edt", "duty worker", "Out-of-hours duty worker"):
        assert typed(word) == "out_of_hours", word
    assert typed("on-call  manager") == "out_of_hours_manager"
    assert typed("IRO") == "iro"
    assert typed("nobody") is None
    # the rota reads the same words, and a role's own id
    assert read_role("OOH") == read_role("out_of_hours") == "out_of_hours"
    assert read_role("Police") == "police_liaison"
