"""The Slack app manifests (docs/), generated from the command registry.

python -m bot.slack.manifest           # write docs/slack-manifest*.yaml
python -m bot.slack.manifest --check   # exit 1 if a committed manifest is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from handlers.commands import COMMANDS, Command

DOCS = Path(__file__).resolve().parents[2] / "docs"
FULL = "slack-manifest.yaml"
SINGLE = "slack-manifest-single-command.yaml"

# Slack keeps these names for itself: the app's commands are prefixed.
RESERVED = ("status", "away")
RESERVED_PREFIX = "wb-"
# The command that carries every other: /missing <command> …
CARRIER = "missing"
CARRIER_SUMMARY = "Every Whereabouts command: /missing <command> …"
CARRIER_HINT = "<command> … e.g. absent Jay 21:05 left after a row"


def slash_name(command: str) -> str:
    """The slash command Slack shows for a command of the registry: 'status' -> '/wb-status'."""
    return f"/{RESERVED_PREFIX}{command}" if command in RESERVED else f"/{command}"


def command_name(slash: str) -> str:
    """The registry's name for a slash command as Slack sends it: '/wb-status' -> 'status'."""
    return slash.lstrip("/").lower().removeprefix(RESERVED_PREFIX)


def _entry(command: str, description: str, hint: str) -> str:
    lines = [f"    - command: {command}", f"      description: {_quoted(description)}"]
    if hint:
        lines.append(f"      usage_hint: {_quoted(hint)}")
    lines.append("      should_escape: false")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def _registry_entry(command: Command) -> str:
    description, hint = command.summary, command.hint or command.args
    if command.guided:  # on its own it opens the report form: every argument is optional
        description += " (on its own: opens a form)"
        hint = re.sub(r"<([^>]*)>", r"[\1]", hint)
    return _entry(slash_name(command.name), description, hint)


def slash_commands(single: bool) -> str:
    carrier = _entry(f"/{CARRIER}", CARRIER_SUMMARY, CARRIER_HINT)
    if single:
        return carrier
    return "".join(_registry_entry(c) for c in COMMANDS if c.listed) + carrier


_FULL_HEADER = """\
# Whereabouts as a Slack app, one slash command per word of the vocabulary.
# Create the app from this manifest at https://api.slack.com/apps ("From an app manifest").
# Slack keeps {reserved} for itself, so here they are {renamed}.
# If other apps in the workspace already use these names, install
# {single} instead: everything goes through /{carrier}.
#
# Socket Mode (the default): nothing else to change. Generate an app-level token with the
# connections:write scope (Basic Information > App-Level Tokens) for SLACK_APP_TOKEN.
# HTTP mode: set socket_mode_enabled to false and give Slack your HTTPS address: a
# request_url under event_subscriptions and interactivity, and a url on every slash command,
# all https://<your host>/slack/events.
"""

_SINGLE_HEADER = """\
# Whereabouts as a Slack app with a single slash command: /{carrier} <command> …
# (/{carrier} absent Jay 21:05 left after a row, /{carrier} ack C-0042, /{carrier} help).
# Create the app from this manifest at https://api.slack.com/apps ("From an app manifest").
#
# Socket Mode (the default): nothing else to change. Generate an app-level token with the
# connections:write scope (Basic Information > App-Level Tokens) for SLACK_APP_TOKEN.
# HTTP mode: set socket_mode_enabled to false and give Slack your HTTPS address: a
# request_url under event_subscriptions and interactivity, and the command's url, all
# https://<your host>/slack/events.
"""

GENERATED = (
    "# Generated from the command registry (handlers/commands.py) by"
    " `python -m bot.slack.manifest`:\n# change the registry and run it, not this file.\n"
)

_APP = """\
display_information:
  name: Whereabouts
  description: Children missing from care - report, escalate, and keep the duties that follow.
  background_color: "#1d3557"
features:
  app_home:
    home_tab_enabled: true
    messages_tab_enabled: true
    messages_tab_read_only_enabled: false
  bot_user:
    display_name: Whereabouts
    always_online: true
  slash_commands:
"""

_SETTINGS = """\
oauth_config:
  scopes:
    bot:
      - commands          # the slash commands
      - chat:write        # alerts, answers, threads; editing a pressed alert
      - chat:write.public # post in a registered public channel without joining it
      - im:write          # conversations.open: direct messages (profiles, private answers)
      - im:history        # read invite codes sent to the app in a direct message
      - files:write       # charts and exports for managers
settings:
  event_subscriptions:
    bot_events:
      - app_home_opened   # the Home tab: your open episodes and duties
      - message.im        # direct messages to the app (invite codes)
  interactivity:
    is_enabled: true      # alert buttons and the report form
  org_deploy_enabled: false
  socket_mode_enabled: true
  token_rotation_enabled: false
"""


def manifest(single: bool) -> str:
    """The text of docs/slack-manifest-single-command.yaml (single) or slack-manifest.yaml."""
    header = (_SINGLE_HEADER if single else _FULL_HEADER).format(
        carrier=CARRIER,
        single=SINGLE,
        reserved=" and ".join(f"/{name}" for name in RESERVED),
        renamed=" and ".join(slash_name(name) for name in RESERVED),
    )
    return header + GENERATED + _APP + slash_commands(single) + _SETTINGS


def manifests() -> dict[Path, str]:
    return {DOCS / FULL: manifest(single=False), DOCS / SINGLE: manifest(single=True)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.slack.manifest", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether they are current")
    args = parser.parse_args(argv)
    stale = [path for path, text in manifests().items() if _read(path) != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python -m bot.slack.manifest", file=sys.stderr)
        return 1 if stale else 0
    for path, text in manifests().items():
        path.write_text(text, encoding="utf-8")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
