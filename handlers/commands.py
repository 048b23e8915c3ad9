"""Every command once: its words, who may use it, what it does, and the code that runs it.

The dispatcher looks commands up here; /help and the usage replies are built from here;
the Slack manifests are generated from here (bot/slack/manifest.py) and a test checks the
README's command list against it. A new command: its reading of the words in
handlers/arguments.py, one entry in COMMANDS, a place in HELP_LAYOUT if /help shows it, a
line in the README's list; then `python -m bot.slack.manifest`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers import arguments as run
from handlers import (
    chat_registration,
    contact_commands,
    names,
    notify_commands,
    rota_commands,
    staff_commands,
)
from handlers.arguments import Typed
from handlers.context import Step
from handlers.messages import Outcome
from handlers.report_commands import READERS
from reminders.access import ACTIONS
from reminders.chat_scope import CHAT_LISTERS, REGISTRARS
from storage.models import Role

Handler = Callable[[Step, Typed], Awaitable[Outcome]]

# Who may use a command: an action of reminders.access.ACTIONS (checked on the child named),
# or one of these. The check itself is made where it always was, in the flow once the words
# are read, so refusals come in the same order; tests/test_commands.py holds the two together.
ANYONE = "anyone"  # even before enrolling
ENROLLED = "enrolled"  # anyone enrolled, about the children they can see
DUTY_HOLDERS = "duty holders"  # the duty's owner, their manager, oversight (duty_commands)
MANAGERS_VIEW = "readers"  # report_commands.READERS
CHAT_REGISTRARS = "registrars"  # chat_scope.REGISTRARS (its scope rule decides which team)
CHAT_LISTERS_GROUP = "chat listers"  # chat_scope.CHAT_LISTERS


@dataclass(frozen=True)
class Command:
    name: str
    args: str  # as /help shows them; "" for none
    summary: str  # what it does, in one line (Slack's description of it)
    may: str  # who may use it: an access action, or one of the names above
    handler: Handler | None  # None: no typed meaning beyond what a transport does with it
    usage_args: str = ""  # the usage reply's arguments, where they differ from `args`
    also: tuple[str, ...] = ()  # the arguments of its other forms (/rhi <child> independent)
    hint: str = ""  # the arguments as a slash command's hint, where they differ from `args`
    aliases: tuple[str, ...] = ()
    in_help: bool = True  # listed by /help
    listed: bool = True  # False: a button's command, listed nowhere (not in README, Slack)
    guided: bool = False  # typed on its own, it starts the guided report (handlers.intake)

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.args, *self.also)

    @property
    def usage(self) -> str:
        """The line a usage reply quotes: '/away <child> <where they are>'."""
        return synopsis(self.name, self.usage_args or self.args)

    @property
    def roles(self) -> frozenset[Role]:
        """The roles `may` lets in (a duty's closer is decided per duty, so: everyone)."""
        groups = {
            MANAGERS_VIEW: READERS,
            CHAT_REGISTRARS: REGISTRARS,
            CHAT_LISTERS_GROUP: CHAT_LISTERS,
        }
        return ACTIONS.get(self.may) or groups.get(self.may) or frozenset(Role)


def synopsis(name: str, args: str) -> str:
    return f"/{name} {args}" if args else f"/{name}"


async def _help(step: Step, typed: Typed) -> Outcome:
    from handlers.help_text import help_for  # it reads this registry

    everything = bool(typed.args) and typed.args[0].lower() == "all"
    return Outcome.say(help_for(step.staff, everything))


# In the order the Slack manifest lists them.
COMMANDS: tuple[Command, ...] = (
    Command(
        "absent",
        "<child> <last seen> <where and what happened> [concern none|carer|police]",
        "Report a child absent",
        "report",
        run.absent,
        usage_args="<child> <last seen time> <where and what happened>",
        guided=True,
    ),
    Command(
        "away", "<child> <where they are>", "Away from placement, whereabouts known", "update",
        run.away,
    ),
    Command(
        "update",
        "<child> [time] <what you did or heard>",
        "Add what you did or heard to the timeline",
        "update",
        run.update,
        usage_args="<child> [time] <what happened>",
        hint="<child> [time] <what happened>",
    ),
    Command(
        "concern", "<child> none|carer|police [why]", "Change the level of concern", "concern",
        run.concern,
    ),
    Command(
        "police",
        "<child> ref <police ref> grade <low|medium|high>",
        "Record the police report",
        "police",
        run.police,
    ),
    Command(
        "found",
        "<child> <time> <end reason> <where, with whom>",
        "Record that a child is back",
        "found",
        run.found,
    ),
    Command(
        "rhi",
        "<child> offered|held|declined <by whom / notes>",
        "Return home interview",
        "rhi",
        run.rhi,
        also=("<child> independent [notes]",),
        hint="<child> offered|held|declined|independent <by whom / notes>",
    ),
    Command(
        "finalise", "<child> [note]", "Close an episode (team manager)", "finalise",
        run.finalise, aliases=("finalize",),
    ),
    Command("status", "[child]", "Open episodes, or one child's", ENROLLED, run.status),
    Command(
        "timeline", "<child>", "An episode's timeline, by direct message", ENROLLED,
        run.timeline,
    ),
    Command(
        "profile", "<child>", "A child's missing profile, by direct message", "profile",
        run.profile,
    ),
    Command("ack", "<child>", "I've got it: take an alert", "ack", run.ack),
    Command(
        "callme", "<child>", "Ask the reporter to phone you", "ack", run.callme,
        in_help=False, listed=False,
    ),
    Command(
        "handover", "<child> <staff id or name>", "Pass an alert you hold to a colleague",
        "ack", run.handover,
    ),
    Command(
        "staff", "[home or role]", "Whom you can hand an alert over to, by staff id", "ack",
        names.staff_list,
    ),
    Command("escalate", "<child>", "Climb to the next step now", "update", run.escalate),
    Command(
        "disagree", "<child> <what the police said>", "The police delay or disagree", "update",
        run.disagree,
    ),
    Command("duties", "", "Your open duties, overdue first", ENROLLED, run.duties),
    Command("done", "D<n> <note>", "Close a duty", DUTY_HOLDERS, run.done),
    Command(
        "na", "D<n> <reason>", "A duty that does not apply", DUTY_HOLDERS, run.na,
        usage_args="D<n> <reason it does not apply>",
    ),
    Command("take", "D<n>", "Take a duty (one nobody owns: it is yours now)", DUTY_HOLDERS, run.take),
    Command(
        "letter", "<child>", "Draft of the Director letter, by direct message", "letter",
        run.letter, also=("<child> sign",),
    ),
    Command(
        "notice", "<child> home|profile [send]", "A formal notice by e-mail: its draft, to send",
        "letter", run.notice,
    ),
    Command("abduction", "<child> <details>", "Record a suspected abduction", "update", run.flag),
    Command("harm", "<child> <details>", "Record harm", "update", run.flag),
    Command("media", "<child> <details>", "Record a media appeal", "update", run.flag),
    Command(
        "record",
        "<child> parents|risk|next|context <text>",
        "Record for the daily summary",
        "update",
        run.record,
    ),
    Command("summary", "", "The missing summary for you", MANAGERS_VIEW, run.summary),
    Command("chart", "", "The episodes chart, by direct message", MANAGERS_VIEW, run.chart),
    Command(
        "subscribe", "daily|weekly", "Get the daily or weekly report", MANAGERS_VIEW,
        run.subscribe,
    ),
    Command(
        "unsubscribe", "daily|weekly", "Stop the daily or weekly report", MANAGERS_VIEW,
        run.subscribe,
    ),
    Command(
        "rota", "[role] [day]", "Who is on each role now and the next 7 days, gaps marked",
        ENROLLED, rota_commands.show,
    ),
    Command(
        "cover", "<role> <from> <to> [staff id]", "Put yourself (or, a manager, someone) on a role",
        ENROLLED, rota_commands.cover,
    ),
    Command(
        "swap", "<role> <day> <staff id> [their day]", "Swap a day of the rota with a colleague",
        ENROLLED, rota_commands.swap, also=("accept <n>", "decline <n>"),
    ),
    Command(
        "myshifts", "", "Your shifts and duties as a calendar file, by direct message",
        ENROLLED, rota_commands.myshifts,
    ),
    Command(
        "leaver", "<staff id> [reason]", "Record that someone has left (admin, their manager)",
        ENROLLED, staff_commands.leaver,
    ),
    Command(
        "invite", "<staff id> [add-device]", "A one-time enrolment code, by direct message",
        ENROLLED, staff_commands.invite,
    ),
    Command("whoami", "", "Who you are enrolled as, and where", ENROLLED, staff_commands.whoami),
    Command(
        "contact", "[sms|email <mobile or address>]",
        "Your mobile and e-mail for alerts, by direct message", ENROLLED,
        contact_commands.contact, also=("sms|email remove",),
    ),
    Command(
        "verify", "<code>", "The code sent to your new mobile or address", ENROLLED,
        contact_commands.verify,
    ),
    Command(
        "notify", "[urgent|routine <method> <minutes>, …]",
        "How alerts reach you beyond chat (SMS, e-mail, after how long)", ENROLLED,
        notify_commands.notify,
        also=("urgent|routine default", "role <role> urgent|routine <method> <minutes>, …"),
    ),
    Command(
        "help", "", "Your Whereabouts commands", ENROLLED, _help, also=("all",),
        hint="[all]",
    ),
    # Each transport answers these itself (enrolment, a team's chat); typed to the
    # dispatcher, /start shows the help and /register is not known.
    Command(
        "register", "<team>", "Make this channel a team's channel (manager)",
        CHAT_REGISTRARS, None, in_help=False, also=("<team> confirm",),
    ),
    Command(
        "unregister", "", "This channel stops being a team's channel (manager, admin)",
        CHAT_REGISTRARS, chat_registration.unregister,
    ),
    Command(
        "chats", "", "Which chats receive which team's messages (admins, managers)",
        CHAT_LISTERS_GROUP, chat_registration.chats,
    ),
    Command(
        "start", "<invite code>", "Enrol with your invite code", ANYONE, _help, in_help=False
    ),
)  # fmt: skip

BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}
ALIASES: dict[str, str] = {alias: c.name for c in COMMANDS for alias in c.aliases}

# /help's lines. {name} is the command with its arguments; {name word} its form with that
# word in its arguments (/rhi <child> independent [notes]).
HELP_LAYOUT = """\
Whereabouts commands (a child is named by reference, e.g. C-0042, or first name):
{absent}
   siblings together: /absent C-0042,C-0043 21:05 ...
{away}  (looked-after child, whereabouts known)
{update}
{concern}
{police}
{found}
   end reasons: self, police, social-care, school, family, other, deceased
{rhi}
{rhi independent}  (the child wants an independent interviewer)
{abduction}   {harm}   {media}
{duties}   your open duties, overdue first
{done}   {na}   {take}   {letter}  (Director letter draft)   {letter sign}  (the Director)
{notice}  (e-mail to the home authority or the police missing team)
{record}  (for the daily summary)
{summary}   {chart}   {subscribe}   {unsubscribe}  (managers)
{finalise}   (team manager)
{chats}   {unregister}   team chats (managers)
{leaver}   {invite}   (admins, and the person's manager or above)
{whoami}   {contact}   {contact remove}   {verify}   (by direct message)
{notify}   {notify default}   {notify role}  (managers: a role's)
{ack}   I've got it: stops the escalation and tells the reporter
{handover}   {staff}   {escalate}   {disagree}
{rota}   {cover}   {myshifts}  (a calendar file, by direct message)
{swap}   {swap accept}   {swap decline}  (the colleague's answer)
{status}   {timeline}   {profile} (by direct message)   {help}   {help all}
Times: 21:10, 9pm, half ten, now, 20 min ago, yesterday 23:15, Fri 21:10, 23/10 21:10"""

HELP_PLACE = re.compile(r"\{([a-z]+)(?: ([a-z]+))?\}")


def placed(match: re.Match[str]) -> tuple[Command, str]:
    """The command and the arguments of the form a {name} or {name word} place stands for."""
    command, word = BY_NAME[match[1]], match[2]
    return command, next(f for f in command.forms if word in f.split()) if word else command.args


def _shown(place: re.Match[str]) -> str:
    command, args = placed(place)
    return synopsis(command.name, args)


HELP = HELP_PLACE.sub(_shown, HELP_LAYOUT)
