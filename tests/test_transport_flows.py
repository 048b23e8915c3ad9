"""The flows every chat transport shares, without a transport: where a command goes first,
enrolment and registration, the guided report's steps and checks, the taken line."""

from __future__ import annotations

from datetime import UTC

from handlers import chat_registration, enrolment, guided_report
from handlers.dispatch import Dispatcher
from handlers.guided_report import Draft, ReportField
from handlers.intake import Route, route
from handlers.messages import NOT_ENROLLED, Chat, taken_line
from storage import staff_store
from tests.support.clock import LONDON, local

DIRECT = Chat("test", "u1")
UNREGISTERED = Chat("test", "g1", is_group=True)
OAK = Chat("test", "g2", is_group=True, team="oak-house")


async def test_enrolment_and_registration_come_before_everything(svc):
    sam = await staff_store.get_staff(svc.db, "sam")
    assert route("start", "abc", None, UNREGISTERED) is Route.ENROL
    assert route("start", "", sam, UNREGISTERED, enrol_in_groups=False) is Route.NOT_SET_UP
    assert route("register", "oak-house", None, UNREGISTERED) is Route.REGISTER
    assert route("status", "", sam, UNREGISTERED) is Route.NOT_SET_UP
    assert route("absent", "", sam, OAK) is Route.GUIDED_REPORT
    assert route("absent", "", None, DIRECT) is Route.COMMAND, "a stranger hears he's not enrolled"
    assert route("absent", "Jay 21:05 out", sam, DIRECT) is Route.COMMAND


async def test_start_enrols_once_and_every_reply_is_private(svc):
    code, _ = await enrolment.create_invite(svc, "alex")
    welcome = await enrolment.start(svc, "test", "u9", None, code)
    assert welcome.text.startswith("Welcome, Alex (carer). You're enrolled as carer (oak-house).")
    again = await enrolment.start(svc, "test", "u8", None, code)
    assert again.refused and again.text == enrolment.REFUSED
    alex = await staff_store.staff_by_identity(svc.db, "test", "u9")
    assert (await enrolment.start(svc, "test", "u9", alex, " ")).text == enrolment.ALREADY_ENROLLED
    assert (await enrolment.start(svc, "test", "u7", None, "")).text == NOT_ENROLLED
    assert all(r.private for o in (welcome, again) for r in o.replies)


async def test_register_says_where_in_the_platforms_words(svc):
    tom = await staff_store.get_staff(svc.db, "tom")
    sam = await staff_store.get_staff(svc.db, "sam")
    stranger = await chat_registration.register(
        svc, None, UNREGISTERED, "south", "in the team room"
    )
    assert stranger.text == NOT_ENROLLED and stranger.replies[0].private
    direct = await chat_registration.register(svc, tom, DIRECT, "south", "in the team room")
    assert direct.text == "Send /register <team> in the team room." and direct.replies[0].private
    assert (await chat_registration.register(svc, sam, UNREGISTERED, "oak-house", "x")).refused
    assert (await chat_registration.register(svc, tom, UNREGISTERED, " ", "x")).refused
    done = await chat_registration.register(svc, tom, UNREGISTERED, "South", "x")
    assert not done.refused and "now the south team chat" in done.text
    assert not done.replies[0].private, "said in the chat, for everyone"


async def test_a_conversation_and_a_form_end_in_the_same_command(svc):
    sam = await staff_store.get_staff(svc.db, "sam")
    first = await guided_report.begin(svc, sam, 20)
    assert first.next is ReportField.CHILD and "C-0042" in {c.command for c in first.choices}
    draft = Draft()
    seen = await guided_report.choose_child(svc, sam, draft, "C-0042")
    assert seen.next is ReportField.SEEN and not seen.typed
    typed = await guided_report.choose_seen(svc, draft, guided_report.TYPE_A_TIME.command)
    assert typed.typed and typed.text == guided_report.SEEN_TYPED_PROMPT
    wrong = await guided_report.answer_seen(svc, draft, "25:99")
    assert wrong.next is ReportField.SEEN and wrong.text.endswith("Try again, or /cancel.")
    where = await guided_report.answer_seen(svc, draft, "20:40")
    assert where.next is ReportField.WHERE
    guided_report.answer_where(draft, " left after a row ")
    concern = guided_report.answer_done(draft, "searched the garden")
    assert [c.label for c in concern.choices] == list(guided_report.CONCERN_LABELS.values())
    spoken = guided_report.answer_concern(draft, "carer")

    errors, _ = await guided_report.check_form(svc, sam, {ReportField.CHILD: "C-0042"})
    assert set(errors) == {ReportField.SEEN, ReportField.WHERE, ReportField.DONE,
                           ReportField.CONCERN}  # fmt: skip
    answers = {
        ReportField.CHILD: "C-0042",
        ReportField.SEEN: "20:40",
        ReportField.WHERE: "left after a row",
        ReportField.DONE: "searched the garden",
        ReportField.CONCERN: "carer",
    }
    errors, written = await guided_report.check_form(svc, sam, answers)
    assert not errors and written == spoken
    seen_at = local("2026-10-23 20:40").astimezone(UTC).isoformat()  # stored in UTC
    assert spoken == (
        f"/absent C-0042 {seen_at} left after a row; done so far: searched the garden concern carer"
    )


async def test_a_refused_report_names_its_field_by_code(svc):
    sam = await staff_store.get_staff(svc.db, "sam")
    dispatcher = Dispatcher(svc)
    assert not (await dispatcher.handle(sam, "/absent C-0042 20:00 out")).refused
    assert not (await dispatcher.handle(sam, "/found C-0042 21:00 self back")).refused
    refused = await dispatcher.handle(sam, "/absent C-0042 20:30 out again")
    assert refused.refused and guided_report.field_refused(refused.field_code) is ReportField.SEEN
    unknown = await dispatcher.handle(sam, "/absent C-0999 20:30 out")
    assert guided_report.field_refused(unknown.field_code) is ReportField.CHILD


def test_the_taken_line():
    at = local("2026-10-23 21:12")
    assert (
        taken_line("I've got it", "Sam (carer)", at, LONDON) == "✔ I've got it: Sam (carer), 21:12"
    )
