"""/register, /unregister and /chats through the neutral flow: which teams exist, whose scope
covers which, the confirmation before a team's chat is replaced or a chat moved, and who is
told. The same flow runs on every transport (test_telegram.py and test_slack.py run it
through the real stacks)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.chat_registration import register
from handlers.dispatch import Dispatcher
from handlers.messages import NOT_ENROLLED, Chat
from reminders import chat_scope
from storage import chat_store, outbox_store, rota_store, staff_store
from storage.models import Role, Staff

WHERE = "in the team's group chat"


def group(n: int, team: str | None = None) -> Chat:
    return Chat("test", f"g{n}", is_group=True, team=team)


async def _add_staff(svc, *people: Staff) -> None:
    async with svc.db.write() as tx:
        for person in people:
            await staff_store.upsert_staff(tx, person)


async def _staff(svc, staff_id: str) -> Staff:
    found = await staff_store.get_staff(svc.db, staff_id)
    assert found is not None
    return found


async def _as(svc, staff_id: str, team: str, n: int = 1):
    return await register(svc, await _staff(svc, staff_id), group(n), team, WHERE)


@pytest.fixture
async def org(svc):
    """The demo team, with a head of service over Tom and a team manager of another team."""
    await _add_staff(
        svc,
        Staff("hos", "Hana", Role.HEAD_OF_SERVICE),
        Staff("tess", "Tess", Role.TEAM_MANAGER, team="north"),
        Staff("nia", "Nia", Role.SOCIAL_WORKER, team="north", manager_id="tess"),
    )
    tom = await _staff(svc, "tom")
    await _add_staff(svc, Staff(tom.id, tom.name, tom.role, tom.home, tom.team, "hos"))
    return svc


async def test_the_teams_are_the_homes_and_teams_of_staff_and_children_and_two_of_the_service(org):
    teams = await chat_scope.load_teams(org.db, org.clock.now())
    assert teams.kinds == {
        "oak-house": chat_scope.TeamKind.HOME,  # the carers' and the children's home
        "elm-lodge": chat_scope.TeamKind.HOME,  # a child's home only
        "south": chat_scope.TeamKind.TEAM,
        "north": chat_scope.TeamKind.TEAM,
        "out-of-hours": chat_scope.TeamKind.OUT_OF_HOURS,
        "managers": chat_scope.TeamKind.MANAGERS,
    }
    assert teams.find("Oak-House") == "oak-house"
    assert teams.close_to("oak-hose") == ["oak-house"]


async def test_a_typo_gets_the_close_matches_and_registers_nothing(org):
    outcome = await _as(org, "tom", "oak-hose")
    assert outcome.refused
    assert outcome.text == "No team 'oak-hose'. Did you mean oak-house?"
    far = await _as(org, "tom", "zebra")
    assert far.refused and far.text.startswith("No team 'zebra'. The teams are")
    assert "oak-house" in far.text and "out-of-hours" in far.text
    assert await chat_store.team_chats(org.db) == []


@pytest.mark.parametrize(
    ("staff_id", "team"),
    [
        ("rosa", "oak-house"),  # the manager of oak-house's carers (a carer herself)
        ("tom", "oak-house"),  # the team manager of its children
        ("tom", "elm-lodge"),
        ("hos", "oak-house"),  # above them
        ("tom", "south"),  # a team's own team manager
        ("tess", "north"),
        ("oohm", "out-of-hours"),  # the out-of-hours manager
        ("hos", "out-of-hours"),
        ("hos", "managers"),  # the whole service's chat: the senior managers only
    ],
)
async def test_those_whose_scope_covers_a_team_register_it(org, staff_id, team):
    outcome = await _as(org, staff_id, team)
    assert not outcome.refused, outcome.text
    assert f"This chat is now the {team} team chat" in outcome.text
    assert not outcome.replies[0].private, "said in the chat, for everyone"
    assert await chat_store.team_of_chat(org.db, "test", "g1") == team


@pytest.mark.parametrize(
    ("staff_id", "team", "says"),
    [
        ("rosa", "elm-lodge", "You can't register elm-lodge: it isn't in your scope."),
        ("tess", "oak-house", "You can't register oak-house: it isn't in your scope."),
        ("tess", "south", "You can't register south: it isn't in your scope."),
        ("tom", "out-of-hours", "You can't register out-of-hours: it isn't in your scope."),
        ("tom", "managers", "You can't register managers: it isn't in your scope."),
        ("oohm", "managers", "You can't register managers: it isn't in your scope."),
        ("oohm", "oak-house", "You can't register oak-house: it isn't in your scope."),
        ("sam", "oak-house", "Only an admin or a manager can register a team chat."),
        ("priya", "south", "Only an admin or a manager can register a team chat."),
        ("ooh1", "out-of-hours", "Only an admin or a manager can register a team chat."),
    ],
)
async def test_a_team_outside_the_senders_scope_is_refused(org, staff_id, team, says):
    outcome = await _as(org, staff_id, team)
    assert outcome.refused and outcome.text.startswith(says), outcome.text
    assert f"ask them to send /register {team} here" in outcome.text
    assert await chat_store.team_chats(org.db) == []


async def test_whoever_the_rota_has_as_out_of_hours_manager_registers_out_of_hours(org):
    assert (await _as(org, "ooh1", "out-of-hours")).refused
    now = org.clock.now()
    async with org.db.write() as tx:
        await rota_store.add_rota(tx, "out_of_hours_manager", "ooh1", now, now + timedelta(hours=8))
    assert not (await _as(org, "ooh1", "out-of-hours")).refused


async def test_an_admin_sets_chats_up_but_registers_none_unless_the_preset_says_so(org):
    for team in ("oak-house", "south", "out-of-hours", "managers"):
        outcome = await _as(org, "admin", team)
        assert outcome.refused, team
        assert outcome.text.startswith("Admins set up chats but can't make one a team's chat")
    assert await chat_store.team_chats(org.db) == []
    everywhere = dict(org.presets)
    org.presets = everywhere | {
        "jersey": everywhere["jersey"].model_copy(update={"admins_register_chats": True})
    }
    assert (await _as(org, "admin", "oak-house")).refused, "oak-house's children are not Jersey's"
    org.presets = {
        name: preset.model_copy(update={"admins_register_chats": True})
        for name, preset in everywhere.items()
    }
    assert not (await _as(org, "admin", "oak-house")).refused


async def test_only_a_group_chat_and_an_enrolled_person(org):
    stranger = await register(org, None, group(1), "oak-house", WHERE)
    assert stranger.text == NOT_ENROLLED and stranger.replies[0].private
    tom = await _staff(org, "tom")
    direct = await register(org, tom, Chat("test", "u1"), "oak-house", WHERE)
    assert direct.text == f"Send /register <team> {WHERE}." and direct.replies[0].private
    empty = await register(org, tom, group(1), "  ", WHERE)
    assert empty.refused and "Say which team" in empty.text
    assert await chat_store.team_chats(org.db) == []


# ---- replacing and moving: a confirmation, then the old chat and the admins are told --------


async def _outbox(svc) -> list[tuple[str, str]]:
    rows = await svc.db.fetchall("SELECT recipient, text FROM outbox ORDER BY id")
    return [(row["recipient"], row["text"]) for row in rows]


async def test_a_team_that_has_a_chat_is_replaced_only_once_confirmed(org):
    assert not (await _as(org, "tom", "oak-house", n=1)).refused
    asked = await _as(org, "rosa", "oak-house", n=2)
    assert asked.refused, "nothing done until confirmed"
    assert "oak-house already has a chat on test" in asked.text
    assert "send /register oak-house confirm" in asked.text
    [button] = asked.replies[0].buttons
    assert button.command == "/register oak-house confirm"
    assert await chat_store.chats_of_team(org.db, "oak-house") == {"test": ["g1"]}
    assert await _outbox(org) == []

    done = await _as(org, "rosa", "oak-house confirm", n=2)
    assert not done.refused and "This chat is now the oak-house team chat" in done.text
    assert "previous chat has been told" in done.text and "The admins have been told" in done.text
    assert await chat_store.chats_of_team(org.db, "oak-house") == {"test": ["g2"]}
    sent = await _outbox(org)
    assert sent[0][0] == "chat:test:g1"
    assert sent[0][1].startswith("This chat is no longer the oak-house team chat: Rosa")
    assert sent[1][0] == "staff:admin"
    assert "Rosa (home manager) registered a test chat as the oak-house team chat" in sent[1][1]
    assert "replaces oak-house's previous chat" in sent[1][1]
    assert len(sent) == 2


async def test_moving_a_chat_to_another_team_is_confirmed_and_says_what_is_left_without(org):
    assert not (await _as(org, "tom", "elm-lodge", n=1)).refused
    asked = await register(org, await _staff(org, "tom"), group(1, "elm-lodge"), "oak-house", WHERE)
    assert asked.refused
    assert asked.text.startswith(
        "This chat is the elm-lodge team chat. Registering it as oak-house"
    )
    assert await chat_store.team_of_chat(org.db, "test", "g1") == "elm-lodge"
    done = await register(
        org, await _staff(org, "tom"), group(1, "elm-lodge"), "oak-house CONFIRM", WHERE
    )
    assert "It is no longer the elm-lodge chat" in done.text
    assert await chat_store.team_of_chat(org.db, "test", "g1") == "oak-house"
    [(to, text)] = await _outbox(org)
    assert to == "staff:admin"
    assert "The chat was elm-lodge's until now" in text
    assert "elm-lodge has no test chat now" in text


async def test_registering_the_same_team_again_changes_nothing(org):
    assert not (await _as(org, "tom", "oak-house")).refused
    again = await register(org, await _staff(org, "tom"), group(1, "oak-house"), "oak-house", WHERE)
    assert not again.refused and "already the oak-house team chat" in again.text
    assert await _outbox(org) == []


async def test_confirming_needs_the_same_scope(org):
    assert not (await _as(org, "tom", "oak-house", n=1)).refused
    refused = await _as(org, "tess", "oak-house confirm", n=2)
    assert refused.refused and "isn't in your scope" in refused.text
    assert await chat_store.chats_of_team(org.db, "oak-house") == {"test": ["g1"]}


async def test_registrations_are_on_the_record(org):
    await _as(org, "tom", "oak-house", n=1)
    await _as(org, "rosa", "oak-house confirm", n=2)
    rows = await org.db.fetchall(
        "SELECT kind, actor_id, text FROM events WHERE episode_id IS NULL AND kind LIKE 'chat_%'"
        " ORDER BY id"
    )
    assert [(r["kind"], r["actor_id"], r["text"]) for r in rows] == [
        ("chat_registered", "tom", "test chat g1 registered as oak-house"),
        ("chat_registered", "rosa", "test chat g2 registered as oak-house (replacing g1)"),
    ]


# ---- /unregister and /chats ------------------------------------------------------------------


async def test_unregister_removes_the_chat_and_tells_the_admins(org):
    await _as(org, "tom", "oak-house")
    dispatcher = Dispatcher(org)
    refused = await dispatcher.handle(
        await _staff(org, "tess"), "/unregister", group(1, "oak-house")
    )
    assert refused.refused
    assert refused.text.startswith("You can't remove the oak-house chat: it isn't in your scope")
    assert await chat_store.team_of_chat(org.db, "test", "g1") == "oak-house"
    direct = await dispatcher.handle(await _staff(org, "tom"), "/unregister", Chat("test", "u1"))
    assert direct.refused and "Send /unregister in the team chat" in direct.text
    done = await dispatcher.handle(await _staff(org, "rosa"), "/unregister", group(1, "oak-house"))
    assert not done.refused
    assert done.text.startswith("This chat is no longer the oak-house team chat")
    assert await chat_store.team_of_chat(org.db, "test", "g1") is None
    [(to, text)] = await _outbox(org)
    assert to == "staff:admin" and text.startswith(
        "Rosa (home manager) removed a test chat from the oak-house"
    )
    assert "oak-house has no test chat now" in text


async def test_an_admin_may_take_a_chat_down(org):
    await _as(org, "tom", "oak-house")
    done = await Dispatcher(org).handle(
        await _staff(org, "admin"), "/unregister", group(1, "oak-house")
    )
    assert not done.refused and await chat_store.team_chats(org.db) == []


async def test_chats_lists_which_chats_receive_what_by_direct_message(org):
    await _as(org, "tom", "oak-house", n=1)
    await _as(org, "hos", "managers", n=2)
    dispatcher = Dispatcher(org)
    listed = await dispatcher.handle(await _staff(org, "admin"), "/chats", group(1, "oak-house"))
    [reply] = listed.replies
    assert reply.private, "by direct message, even asked in a group"
    assert reply.text.splitlines() == [
        "Team chats (team, platform, chat, registered by, when):",
        "• managers: test g2, by Hana, Fri 23 Oct 21:10",
        "• oak-house: test g1, by Tom (team manager), Fri 23 Oct 21:10",
        "No chat: elm-lodge, north, out-of-hours, south.",
    ]
    carer = await dispatcher.handle(await _staff(org, "sam"), "/chats")
    assert carer.refused and "for admins and managers" in carer.text


async def test_the_old_chat_notice_reaches_that_chat_only(org):
    """'chat:<transport>:<id>' is one chat, registered or not: the router sends it there."""
    from bot.router import Router
    from storage.models import OutboxMessage

    sent: list[tuple[str, str]] = []

    class Stub:
        name = "test"

        async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
            sent.append(("direct", external_id))

        async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
            sent.append(("team", chat_id))

        async def redact(self, message: OutboxMessage) -> None:
            raise AssertionError

    await _as(org, "tom", "oak-house", n=1)
    await _as(org, "rosa", "oak-house confirm", n=2)
    async with org.db.write() as tx:
        queued = await outbox_store.claim_outbox(tx, org.clock.now(), 10)
    await Router(org.db, [Stub()]).send(next(m for m in queued if m.recipient.startswith("chat:")))
    assert sent == [("team", "g1")]
