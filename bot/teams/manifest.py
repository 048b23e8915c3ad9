"""The Teams app package (docs/teams/): manifest.json with the bot's commands, generated from
the command registry, and its two icons.

python -m bot.teams.manifest                      # write docs/teams/manifest.json and icons
python -m bot.teams.manifest --check              # exit 1 if the committed files are stale
python -m bot.teams.manifest --app-id ID --zip whereabouts-teams.zip
                                                  # the package to upload, for your app id
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from handlers.commands import COMMANDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "teams"
SCHEMA_VERSION = "1.17"
SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/"
    f"v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
)
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"  # replaced by --app-id
COMMANDS_SHOWN = 10  # Teams lists at most ten commands per scope; all of them work typed
TITLE_LIMIT = 32
DESCRIPTION_LIMIT = 128
COLOR, OUTLINE = "color.png", "outline.png"
ACCENT = (29, 53, 87)  # the Slack app's background colour, #1d3557


def bot_commands() -> list[dict[str, str]]:
    return [
        {"title": c.name[:TITLE_LIMIT], "description": c.summary[:DESCRIPTION_LIMIT]}
        for c in COMMANDS
        if c.listed
    ][:COMMANDS_SHOWN]


def manifest(app_id: str = PLACEHOLDER_ID) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "manifestVersion": SCHEMA_VERSION,
        "version": "1.0.0",
        "id": app_id,
        "developer": {
            "name": "Whereabouts",
            "websiteUrl": "https://example.org/whereabouts",
            "privacyUrl": "https://example.org/whereabouts/privacy",
            "termsOfUseUrl": "https://example.org/whereabouts/terms",
        },
        "name": {"short": "Whereabouts", "full": "Whereabouts: children missing from care"},
        "description": {
            "short": "Report a child missing from care; escalate and keep the duties after.",
            "full": (
                "Whereabouts keeps missing-from-care episodes for children's social care: "
                "carers report a child absent, alerts climb through staff and the rota until "
                "someone takes them, and the statutory duties that follow (police, return "
                "interviews, notifications) are chased. Type /help in a chat with it."
            ),
        },
        "icons": {"color": COLOR, "outline": OUTLINE},
        "accentColor": "#1D3557",
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal", "team"], "commands": bot_commands()},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
    }


def manifest_text(app_id: str = PLACEHOLDER_ID) -> str:
    return json.dumps(manifest(app_id), indent=2, ensure_ascii=False) + "\n"


def icons() -> dict[str, bytes]:
    """color.png 192×192 (the accent, a white pin) and outline.png 32×32 (white on
    transparent), as Teams asks."""
    from PIL import Image, ImageDraw

    def pin(size: int, background: tuple[int, ...], colour: tuple[int, ...]) -> bytes:
        image = Image.new("RGBA", (size, size), background)
        draw = ImageDraw.Draw(image)
        s = size / 32
        draw.ellipse([9 * s, 4 * s, 23 * s, 18 * s], outline=colour, width=max(1, round(2 * s)))
        draw.polygon([(10 * s, 14 * s), (22 * s, 14 * s), (16 * s, 28 * s)], fill=colour)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()

    return {
        COLOR: pin(192, (*ACCENT, 255), (255, 255, 255, 255)),
        OUTLINE: pin(32, (0, 0, 0, 0), (255, 255, 255, 255)),
    }


def files() -> dict[Path, bytes]:
    return {DOCS / "manifest.json": manifest_text().encode()} | {
        DOCS / name: data for name, data in icons().items()
    }


def package(app_id: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", manifest_text(app_id))
        for name, data in icons().items():
            zf.writestr(name, data)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.teams.manifest", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether they are current")
    parser.add_argument("--app-id", help="the Entra ID app (client) id of your Azure Bot")
    parser.add_argument("--zip", type=Path, help="write the package to upload here")
    args = parser.parse_args(argv)
    if args.zip:
        if not args.app_id:
            parser.error("--zip needs --app-id")
        args.zip.write_bytes(package(args.app_id))
        return 0
    stale = [p for p, data in files().items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run python -m bot.teams.manifest", file=sys.stderr)
        return 1 if stale else 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, data in files().items():
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
