"""`whereabouts simulate --json` says each message's channel (issue 21): "via" is chat, sms
or email, so a scenario shows an alert nobody took going on by text after 5 minutes."""

from __future__ import annotations

import json

from bot.cli import main

SCENARIO = """\
area: west-yorkshire
start: 2026-10-23T20:00
until: 2026-10-23T22:00
staff:
  - {id: sam, name: Sam, role: carer, home: oak-house}
  - {id: priya, name: Priya, role: social_worker, manager: tom}
  - {id: tom, name: Tom, role: team_manager}
  - {id: ooh1, name: Olu, role: out_of_hours, phone: "07700 900105", email: olu@example.org}
  - {id: oohm, name: Morgan, role: out_of_hours_manager}
children:
  - {ref: C-0042, first_name: Jay, dob: 2011-05-02, home: oak-house, social_worker: priya,
     team_manager: tom}
rota:
  - {role: out_of_hours, staff: ooh1, from: 2026-10-23T17:00, to: 2026-10-26T09:00}
  - {role: out_of_hours_manager, staff: oohm, from: 2026-10-23T17:00, to: 2026-10-26T09:00}
steps:
  - {at: 2026-10-23T21:00, as: ooh1, say: "/notify urgent chat 0, sms 5, email 6"}
  - {at: 2026-10-23T21:10, as: sam, say: "/absent Jay 21:05 left after a row"}
  - {at: 2026-10-23T21:30, as: ooh1, say: "/ack Jay"}
"""


def test_each_message_says_whether_it_went_by_chat_sms_or_email(tmp_path, capsys):
    path = tmp_path / "via.yaml"
    path.write_text(SCENARIO)
    assert main(["simulate", str(path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    messages = [r for r in records if r["type"] == "message"]
    assert all(m["via"] in ("chat", "sms", "email") for m in messages)
    to_olu = [(m["at"], m["via"]) for m in messages if m["to"] == "ooh1" and m["rule"] == "ABS-OOH"]
    assert ("2026-10-23T21:10", "chat") in to_olu
    assert ("2026-10-23T21:15", "sms") in to_olu and ("2026-10-23T21:16", "email") in to_olu
    (sms,) = [m for m in messages if m["via"] == "sms"]
    assert sms["child"] == "C-0042" and "Jay" not in sms["text"]
