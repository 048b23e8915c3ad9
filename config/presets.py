"""Protocol presets: one data file per area, validated at start-up.

A preset names the rule ids it implements and carries every number the rules need:
office hours, bank holiday calendar, police grading limits, review intervals, the
overnight cut-off and the escalation ladders. A bad file stops the start with its
path and the offending field.
"""

from __future__ import annotations

import re
import string
from datetime import time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    model_validator,
)

from config import rule_ids
from config.calendar import AreaCalendar
from config.contacts import AreaContacts, ContactsError, deployed
from config.rules import catalogue
from config.vocabulary import Audience, Condition, Start, Trigger
from config.yamlfile import DataFileError, load_model

AREAS = ("jersey", "hipsw", "buckinghamshire", "north-somerset", "west-yorkshire")

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: Any) -> timedelta:
    """'90m', '1h', '1h30m', '2d' -> timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a duration such as '30m', '1h' or '2d', not {value!r}")
    if value.startswith("P"):  # ISO 8601, as a spec copied onto a duty is stored
        return TypeAdapter(timedelta).validate_python(value)
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        raise ValueError(f"a duration such as '30m', '1h' or '2d', not {value!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def parse_clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML reads 17:00 as sexagesimal 1020
        return time(value // 60, value % 60)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = (int(p) for p in value.strip().split(":"))
        return time(hours, minutes)
    raise ValueError(f"a local time such as '17:00', not {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
ClockTime = Annotated[time, BeforeValidator(parse_clock_time)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidaySource(Strict):
    country: Literal["GB", "JE"]
    subdiv: str | None = None


class OfficeHours(Strict):
    open: ClockTime = time(9, 0)
    close: ClockTime = time(17, 0)
    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon", "tue", "wed", "thu", "fri",
    )  # fmt: skip
    # RULES.md: none of the protocols defines office hours; each preset says whose they are.
    source: str = "ours: no protocol defines office hours"

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        if self.close <= self.open:
            raise ValueError("office hours must close after they open")
        return self


class PoliceGrading(Strict):
    """MIS-GRADE: the lowest grade the area's police give (B: medium), and H's under-16 rule."""

    lowest: Literal["low", "medium"] = "low"
    no_low_under_age: int | None = None
    lowest_from_home: Literal["low", "medium"] = "low"  # a child not looked after (H §5.3.2)
    source: str = ""


class BringingBack(Strict):
    """RET-HOURS: who brings back a child whose whereabouts are known, by the clock (H §6.7)."""

    local_authority_from: ClockTime = time(9, 0)
    local_authority_to: ClockTime = time(21, 0)
    source: str = ""


class Reports(Strict):
    """The managers' view (SUM-DAILY-TM/HOS, SUM-WEEKLY): when each goes out, local time."""

    daily_at: ClockTime = time(8, 30)
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "thu"
    weekly_at: ClockTime = time(17, 0)  # "circulated the evening before" the meeting
    source: str = ""


class RotaSettings(Strict):
    """The rota's gap forecast: each day at `gaps_at` (local) the out-of-hours manager and
    the admins hear of every span in the next 24 hours a role the ladders need has nobody."""

    gaps_at: ClockTime = time(15, 0)  # ours: before the evening's out-of-hours shift


class AbsenceRules(Strict):
    review_interval: Duration = timedelta(hours=1)  # ABS-REVIEW, unless the child's plan says
    overnight_cutoff: ClockTime = time(23, 0)  # ABS-OVERNIGHT
    morning: ClockTime = time(7, 0)  # a report between the cut-off and this is already overnight
    overnight_source: str = ""
    confirm_wait: Duration = timedelta(
        minutes=15
    )  # an acknowledger asked "still on it?" answers by then


MESSAGE_FIELDS = frozenset(
    {"child", "ref", "actor", "details", "last_seen", "since", "grade", "cutoff", "police_ref",
     "status"}
)  # fmt: skip


class Urgency(Strict):
    """Whether a rule must act out of hours or can wait for office hours (issue 21's SMS
    urgency reads the same flag). The protocol's words decide; where it is silent the choice
    is ours and says so. Out of hours an urgent duty goes to whoever the rota has on duty; a
    duty that can wait is held to its office-hours owner's next opening (reminders/duties.py).
    """

    urgent: bool  # must act out of hours
    made_by: tuple[Trigger, ...] = ()  # urgent only when made by these (DIR-LETTER on harm)
    source: str = Field(min_length=1)  # the protocol's words, or why the choice is ours
    ours: bool = False  # the protocol is silent on the hour: the choice is ours

    @model_validator(mode="after")
    def _conditional(self) -> Urgency:
        if self.made_by and self.urgent:
            raise ValueError(
                "urgent: true is urgent whatever the trigger; give made_by only with false"
            )
        return self

    def for_trigger(self, trigger: str) -> bool:
        return self.urgent or trigger in self.made_by


class LadderStep(Strict):
    notify: tuple[Audience, ...] = Field(min_length=1)
    wait: Duration = timedelta(minutes=30)  # for an acknowledgement, before the next send
    repeat: int = Field(default=0, ge=0, le=10)  # extra sends of this step before climbing


class Ladder(Strict):
    """Who is told, in what order, until a person acknowledges. Copied onto the episode at start."""

    trigger: Trigger
    rule: str
    rule_out_of_hours: str | None = None  # e.g. ABS-SW in office hours becomes ABS-OOH outside
    start: Start = "now"
    when: Condition = "always"
    needs_ack: bool = True
    include_profile: bool = False  # direct messages carry the profile and trigger plan
    keep_on_found: bool = False  # still due after the child is found (MIS-NEXTDAY)
    stop_on: tuple[Trigger, ...] = ()
    reset_on: tuple[Trigger, ...] = ()
    review: Duration | None = (
        None  # after an ack, ask "still on it?" after this (default: ABS-REVIEW interval)
    )
    message: str
    # When someone already holds the episode: "climb" alerts afresh; "update" tells the holder
    # (`update`, the change in a few words) and the climb is theirs, not a fresh alert.
    when_held: Literal["climb", "update"] = "climb"
    update: str = ""
    steps: tuple[LadderStep, ...] = Field(min_length=1)
    urgency: Urgency | None = None  # every shipped ladder says (tests/test_urgency.py)

    @property
    def urgent(self) -> bool:
        return self.urgency is not None and self.urgency.urgent

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return (self.rule,) + ((self.rule_out_of_hours,) if self.rule_out_of_hours else ())

    @model_validator(mode="after")
    def _placeholders(self) -> Ladder:
        """A typo in a message would only show when the alert fires, at night: refuse it now."""
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(self.message) if name}
            names |= {name for _, name, _, _ in string.Formatter().parse(self.update) if name}
        except ValueError as exc:
            raise ValueError(f"message: {exc}") from exc
        if self.when_held == "update" and not self.update:
            raise ValueError("when_held: update needs `update`: the change as the holder reads it")
        unknown = names - MESSAGE_FIELDS
        if unknown:
            raise ValueError(
                f"message uses unknown placeholders {sorted(unknown)}; "
                f"known: {', '.join(sorted(MESSAGE_FIELDS))}"
            )
        return self


Method = Literal["chat", "sms", "email"]


class NotifyStep(Strict):
    """One way an alert reaches a person, and how long after the alert (unacknowledged)."""

    method: Method
    after: Duration = timedelta(0)


def _chain_checked(chain: tuple[NotifyStep, ...]) -> tuple[NotifyStep, ...]:
    """An ordered chain: each method once, the delays in order, chat (if named) at once."""
    methods = [step.method for step in chain]
    if len(set(methods)) != len(methods):
        raise ValueError("name each method once (chat, sms, email)")
    delays = [step.after for step in chain]
    if delays != sorted(delays):
        raise ValueError("list the methods in the order they go: the delays must not go down")
    if any(step.method == "chat" and step.after for step in chain):
        raise ValueError("chat always goes at once (chat 0): it carries the alert's buttons")
    if any(step.after > timedelta(hours=24) or step.after < timedelta(0) for step in chain):
        raise ValueError("a delay is between 0 and 24 hours")
    return chain


NotifyChain = Annotated[tuple[NotifyStep, ...], AfterValidator(_chain_checked)]
# The episode's facts an alert's e-mail may carry (never a name, a place or the profile).
EmailSummaryField = Literal[
    "category", "missing_for", "last_seen_time", "police_grade", "concern", "status"
]


class NotificationRules(Strict):
    """How alerts that wait for an acknowledgement reach a person beyond chat (issue 21): the
    service's defaults, which a manager may override for a role and a person for themselves
    (/notify). Urgent: the ladder is urgent (the same flag out-of-hours routing reads)."""

    urgent: NotifyChain = (
        NotifyStep(method="chat"),
        NotifyStep(method="sms", after=timedelta(minutes=5)),
    )
    routine: NotifyChain = (NotifyStep(method="chat"),)
    # What an alert's e-mail may add to the text's words: a link-free summary, by rule
    # (reminders/notify_text.py). None of these is a name, a place or a profile detail.
    email_summary: tuple[EmailSummaryField, ...] = ("category", "missing_for", "police_grade")
    email_summary_by_rule: dict[str, tuple[EmailSummaryField, ...]] = {}
    source: str = "ours: the protocols say how fast, not by which means"


class Deadline(Strict):
    """One way of counting, as RULES.md defines them; `cap` bounds it ("at the latest 3 days")."""

    hours: float | None = None  # elapsed
    days: float | None = None  # elapsed N x 24 h
    working_days: int | None = None  # end of office hours on the Nth working day after
    same_working_day: bool = False
    next_working_day: bool = False
    at: ClockTime | None = None  # a fixed local time: the next one after the event
    start: Literal["event", "episode"] = "event"  # count from the trigger, or from last seen
    cap: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Deadline:
        kinds = [
            self.hours is not None,
            self.days is not None,
            self.working_days is not None,
            self.same_working_day,
            self.next_working_day,
            self.at is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a deadline is exactly one of hours, days, working_days, same_working_day, "
                "next_working_day, at"
            )
        return self


def duty_rule(key: str) -> str:
    """The rule id of a preset's duty: a key is the id, or 'ID/variant' where one rule makes
    more than one duty (RHI-72H/ooh-declined: the allocated worker's follow-up, NS §2.14)."""
    return key.split("/", 1)[0]


class Pattern(Strict):
    """A repeat pattern across the child's episodes (RULES.md §5)."""

    count: int = Field(ge=2)
    within: Duration | None = None  # None: the whole history
    counts: tuple[Literal["missing", "absent", "away"], ...] = ("missing",)


DUTY_FIELDS = frozenset(
    {"child", "ref", "police_ref", "home_authority", "last_seen", "next_working_day_in",
     "rhi_edt_instruction"}
)  # fmt: skip


class DutySpec(Strict):
    """A statutory duty: made by an event, owned by a role, chased until it is done."""

    trigger: Trigger
    when: tuple[Condition, ...] = ()
    unless: tuple[Condition, ...] = ()  # never made when any of these holds (NS §4.1 host child)
    pattern: Pattern | None = None
    action: str  # what must be done, as the owner reads it
    owner: Audience
    cc: tuple[Audience, ...] = ()  # also told, with the first reminder
    manager: Audience | None = None  # who hears when it is overdue (default: owner's manager)
    deadline: Deadline
    missing_for: Duration | None = None  # only once missing this long (MIS-48H); lapses if found
    # Where `when` fails, the duty still applies once missing this long (MIS-SIN: "or anyone
    # missing 24 hours or more").
    otherwise_missing_for: Duration | None = None
    remind_at_once: bool = True  # tell the owner when the duty is made
    lead: Duration | None = None  # a reminder this long before the deadline
    chase_every: Duration | None = None  # reminders through the day before the deadline
    every: Duration = timedelta(hours=4)  # repeated while overdue
    manager_after: int = Field(default=2, ge=0)  # overdue reminders before the manager is told
    manager_rule: str | None = None  # the rule id the hand-up carries (RHI-LATE, RHI-CHASE)
    still_missing: bool = False  # only if the child is still missing at the deadline
    recur: Deadline | None = None  # again after each completion while the child is missing
    then: str | None = None  # the rule id of a duty that follows when this one is done
    # The hand-up to the manager at the end of the Nth working day after the deadline
    # instead of after a count of reminders (NS §2.10 "after three working days").
    manager_after_working_days: int | None = Field(default=None, ge=1)
    # A duty that lapses at found (still_missing) stays when any of these holds (B strategy
    # meeting: "where there are repeat concerns or a high risk ... still held").
    kept_if_found: tuple[Condition, ...] = ()
    blocks_finalise: bool = False  # RET-FINAL waits until it is closed (NS §2.14)
    interview_closes: bool = True  # closed when the interview is recorded, as its rule's are
    source: str
    urgency: Urgency | None = None  # every shipped duty says (tests/test_urgency.py)

    @property
    def urgent(self) -> bool:
        """Must act out of hours (as made: a conditional urgency is settled at creation)."""
        return self.urgency is not None and self.urgency.urgent

    def made_by(self, trigger: str) -> DutySpec:
        """The spec as copied onto a duty made by this trigger: DIR-LETTER is urgent when a
        notification shows risk of harm, and waits for office hours otherwise."""
        if self.urgency is None or self.urgency.urgent or not self.urgency.for_trigger(trigger):
            return self
        urgent = self.urgency.model_copy(update={"urgent": True, "made_by": ()})
        return self.model_copy(update={"urgency": urgent})

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r for r in (self.manager_rule, self.then) if r)

    @model_validator(mode="after")
    def _placeholders(self) -> DutySpec:
        names = {name for _, name, _, _ in string.Formatter().parse(self.action) if name}
        unknown = names - DUTY_FIELDS
        if unknown:
            raise ValueError(f"action uses unknown placeholders {sorted(unknown)}")
        return self


def _placeholders_in(text: str, known: frozenset[str], what: str) -> None:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    unknown = names - known
    if unknown:
        raise ValueError(
            f"{what} uses unknown placeholders {sorted(unknown)}; known: {', '.join(sorted(known))}"
        )


class OutOfHoursReturn(Strict):
    """RHI-EDT: what the out-of-hours worker does about the return interview (NS §1.6), by
    how far away the next working day is; the duty's {rhi_edt_instruction}."""

    ask: str  # 16-47 h away: they ask the child who they want (NS §1.6.1)
    hold: str  # 48 h or more: they hold the interview themselves (NS §1.6.2)


LETTER_FIELDS = frozenset({"authority", "today", "child", "count", "section", "drafted"})
LETTER_EPISODE_FIELDS = frozenset({"start", "end", "police_ref", "grade"})
LETTER_EPISODES = "{episodes}"


class DirectorLetter(Strict):
    """DIR-LETTER: the draft letter to the home authority's Director (/letter).

    `lines` is the letter; a line that is exactly "{episodes}" stands for one `episode` line
    per missing episode of the child's.
    """

    section: str  # the protocol section the letter cites
    episode: str
    lines: tuple[str, ...]

    @model_validator(mode="after")
    def _placeholders(self) -> DirectorLetter:
        _placeholders_in(self.episode, LETTER_EPISODE_FIELDS, "episode")
        for line in self.lines:
            if line != LETTER_EPISODES:
                _placeholders_in(line, LETTER_FIELDS, "lines")
        return self


# Formal notices by e-mail to someone outside the chat (handlers/notices.py). What a notice's
# e-mail may carry: the child's reference and first name, date of birth, the police reference
# and grade, when they were last seen and reported, who sends it; never the profile, a place
# or a surname. The Missing Profile to the police is the exception by design (B App 2: the
# completed profile is e-mailed to them): only a notice to the police missing team may carry
# {profile} and {full_name}.
NOTICE_FIELDS = frozenset(
    {"child", "ref", "first_name", "dob", "authority", "police_ref", "grade", "last_seen",
     "reported", "sender", "sender_role", "signed_by", "signed_at"}
)  # fmt: skip
PROFILE_NOTICE_FIELDS = NOTICE_FIELDS | {"profile", "full_name"}
NoticeKind = Literal["home", "letter", "profile"]  # what /notice and /letter … sign send


class Notice(Strict):
    """A formal notice by e-mail: the named person sees the draft with the command that sends
    it, and nothing is queued before they type it."""

    rule: str  # the rule it is sent for; an open duty of that rule is closed by sending it
    to: Literal["home_authority", "police_missing_team"]
    # police_missing_team: the address, per deployment (the home authority's is on the child)
    address: str | None = None
    source: str = Field(min_length=1)  # the protocol's words asking for it
    subject: str
    lines: tuple[str, ...]

    @property
    def carries_profile(self) -> bool:
        return self.to == "police_missing_team"

    @model_validator(mode="after")
    def _checked(self) -> Notice:
        known = PROFILE_NOTICE_FIELDS if self.carries_profile else NOTICE_FIELDS
        for line in (self.subject, *self.lines):
            _placeholders_in(line, known, "a notice")
        if self.to == "home_authority" and self.address is not None:
            raise ValueError("the home authority's address is on the child's record, not here")
        if self.address is not None and not re.fullmatch(
            r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", self.address
        ):
            raise ValueError(f"{self.address!r} is not an e-mail address")
        return self


class CiteAs(Strict):
    """How a message's footer names this area's protocol: its code in the rule catalogue's
    sources (config/rules.yaml: 'WY §8') and a name a reader knows it by."""

    code: str
    name: str


class Preset(Strict):
    name: str
    title: str
    source: str
    cite_as: CiteAs | None = None  # every shipped preset sets it (tests/test_citations.py)
    timezone: str
    holidays: HolidaySource
    office_hours: OfficeHours = OfficeHours()
    police_grading: PoliceGrading = PoliceGrading()
    absence: AbsenceRules = AbsenceRules()
    bringing_back: BringingBack | None = None  # RET-HOURS, where the area sets it
    reports: Reports = Reports()
    rota: RotaSettings = RotaSettings()
    out_of_hours_return: OutOfHoursReturn | None = None  # RHI-EDT, where the area sets it
    director_letter: DirectorLetter | None = None  # DIR-LETTER, where the area sets it
    notices: dict[NoticeKind, Notice] = {}  # formal notices by e-mail, where the area sends them
    # Admins set up chats, but a team chat shows children (alerts, /status): an admin may
    # register one (/register) only where every area whose children it shows says so here.
    admins_register_chats: bool = False
    # Who to phone when the bot could reach nobody (config/contacts.py; a deployment may set them).
    contacts: AreaContacts = AreaContacts()
    # Beyond chat: SMS and e-mail after a delay, unless the alert is taken first.
    notifications: NotificationRules = NotificationRules()
    rules: tuple[str, ...]
    ladders: dict[str, Ladder] = {}
    duties: dict[str, DutySpec] = {}
    _calendar: AreaCalendar = PrivateAttr()

    @model_validator(mode="after")
    def _known(self) -> Preset:
        known = catalogue()
        unknown = [r for r in self.rules if r not in known]
        if unknown:
            raise ValueError(f"unknown rule ids (not in RULES.md): {', '.join(unknown)}")
        for rid, duty in self.duties.items():
            for needed in (duty_rule(rid), *duty.rule_ids):
                if needed not in known:
                    raise ValueError(f"duty {rid}: unknown rule id {needed} (not in RULES.md)")
                if needed not in self.rules:
                    raise ValueError(f"duty {rid} uses {needed}, which the preset does not list")
        for name, ladder in self.ladders.items():
            for rid in ladder.rule_ids:
                if rid not in self.rules:
                    raise ValueError(f"ladder {name!r} uses {rid}, which the preset does not list")
        for rid in self.notifications.email_summary_by_rule:
            if rid not in self.rules:
                raise ValueError(
                    f"notifications.email_summary_by_rule: {rid} is not a rule the preset lists"
                )
        if (self.director_letter is not None) != self.implements(rule_ids.DIRECTOR_LETTER):
            raise ValueError(
                f"a preset gives director_letter exactly when it implements "
                f"{rule_ids.DIRECTOR_LETTER}"
            )
        for kind, notice in self.notices.items():
            if notice.rule not in self.rules:
                raise ValueError(
                    f"notice {kind!r} uses {notice.rule}, which the preset does not list"
                )
        if "letter" in self.notices and self.director_letter is None:
            raise ValueError("the 'letter' notice sends the director_letter: give one")
        if self.implements(rule_ids.OUT_OF_HOURS_RETURN) and self.out_of_hours_return is None:
            raise ValueError(
                f"{rule_ids.OUT_OF_HOURS_RETURN} needs out_of_hours_return: what the "
                "out-of-hours worker does about the return interview"
            )
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self

    def implements(self, rule_id: str) -> bool:
        return rule_id in self.rules

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def calendar(self) -> AreaCalendar:
        return self._calendar

    def model_post_init(self, context: Any) -> None:
        self._calendar = AreaCalendar(
            tz=ZoneInfo(self.timezone),
            holiday_country=self.holidays.country,
            holiday_subdiv=self.holidays.subdiv,
            office_open=self.office_hours.open,
            office_close=self.office_hours.close,
            office_weekdays=frozenset(_WEEKDAYS.index(d) for d in self.office_hours.weekdays),
        )


class PresetError(ValueError):
    """A preset file failed validation; the message names the file and the line."""


def load_preset_file(path: Path | str, text: str | None = None) -> Preset:
    try:
        return load_model(Preset, path, text)
    except DataFileError as exc:
        raise PresetError(str(exc)) from exc


class LadderDefaults(Strict):
    ladders: dict[str, Ladder]


class DutyDefaults(Strict):
    duties: dict[str, DutySpec]


@cache
def default_duties() -> dict[str, DutySpec]:
    resource = resources.files("config").joinpath("protocols", "_duties.yaml")
    try:
        loaded = load_model(
            DutyDefaults, "config/protocols/_duties.yaml", resource.read_text("utf-8")
        )
    except DataFileError as exc:
        raise PresetError(str(exc)) from exc
    unknown = [rid for rid in loaded.duties if duty_rule(rid) not in catalogue()]
    if unknown:
        raise PresetError(f"config/protocols/_duties.yaml: unknown rule ids {unknown}")
    return loaded.duties


@cache
def default_ladders() -> dict[str, Ladder]:
    resource = resources.files("config").joinpath("protocols", "_ladders.yaml")
    try:
        loaded = load_model(
            LadderDefaults, "config/protocols/_ladders.yaml", resource.read_text("utf-8")
        )
    except DataFileError as exc:
        raise PresetError(str(exc)) from exc
    return loaded.ladders


def with_default_ladders(preset: Preset) -> Preset:
    """Add each default ladder and duty whose rule ids the preset implements and does not override."""
    merged = dict(preset.ladders)
    for name, ladder in default_ladders().items():
        if name not in merged and all(preset.implements(r) for r in ladder.rule_ids):
            merged[name] = ladder
    duties = dict(preset.duties)
    for rid, duty in default_duties().items():
        if rid not in duties and preset.implements(duty_rule(rid)):
            duties[rid] = duty.model_copy(
                update={
                    "manager_rule": duty.manager_rule
                    if preset.implements(duty.manager_rule or rid)
                    else None,
                    "then": duty.then if preset.implements(duty.then or rid) else None,
                }
            )
    return preset.model_copy(update={"ladders": merged, "duties": duties})


@cache
def load_preset(name: str) -> Preset:
    if name not in AREAS:
        raise PresetError(f"unknown area {name!r}; the areas are {', '.join(AREAS)}")
    resource = resources.files("config").joinpath("protocols", f"{name}.yaml")
    preset = load_preset_file(f"config/protocols/{name}.yaml", resource.read_text("utf-8"))
    if preset.name != name:
        raise PresetError(f"config/protocols/{name}.yaml: name is {preset.name!r}, not {name!r}")
    try:
        contacts = deployed(name, preset.contacts, AREAS)
    except ContactsError as exc:
        raise PresetError(str(exc)) from exc
    return with_default_ladders(preset.model_copy(update={"contacts": contacts}))


def load_all_presets() -> dict[str, Preset]:
    return {name: load_preset(name) for name in AREAS}
