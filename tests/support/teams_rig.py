"""The Teams adapter running Whereabouts against the Teams stand-in (tests/support/fake_teams.py):
activities signed with the stand-in's keys reach the bot's own endpoint on 127.0.0.1, where
the real validation path checks them against the stand-in's OpenID metadata and key set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.delivery import OutboxDelivery
from bot.router import Router
from bot.teams.app import HttpListen, TeamsPlatform
from bot.teams.sender import Pacer
from handlers.context import Services
from storage import chat_store, staff_store
from storage.db import Database
from tests.support.fake_teams import APP_ID, TENANT, FakeTeams, TeamsUser
from tests.support.slack_rig import open_services, unreachable_handler

# Teams user ids of the test staff.
TEAMS_IDS = {name: f"29:{name}" for name in
             ("sam", "alex", "priya", "tom", "ooh1", "ooh2", "oohm", "pc1", "iro1", "admin")}  # fmt: skip
OAK_CHANNEL = "19:oak@thread.tacv2"
ELM_CHANNEL = "19:elm@thread.tacv2"
OAK = (OAK_CHANNEL, "team-oak")
ELM = (ELM_CHANNEL, "team-elm")


async def bot_token() -> str:
    return "bot-token-from-entra"


async def start_teams(
    svc: Services, fake: FakeTeams | None = None
) -> tuple[FakeTeams, TeamsPlatform]:
    fake = fake or await FakeTeams().start()
    platform = TeamsPlatform(
        svc, APP_ID, bot_token, tenants=frozenset([TENANT]), seal_key="test-password",
        metadata_url=fake.metadata_url, pacer=Pacer(1000, 1000, 1000),
    )  # fmt: skip
    platform.sender.patience = (0.0, 0.0)
    await platform.start(HttpListen("127.0.0.1", 0))
    return fake, platform


async def enrol_on_teams(svc: Services, staff_ids: list[str], register: bool) -> None:
    async with svc.db.write() as tx:
        for staff_id in staff_ids:
            await staff_store.bind_identity(tx, "teams", TEAMS_IDS[staff_id], staff_id)
        if register:
            await chat_store.register_team_chat(
                tx, "teams", OAK_CHANNEL, "oak", "tom", svc.clock.now()
            )


async def install_all(user: TeamsUser, staff_ids: list[str], channel: bool) -> None:
    for staff_id in staff_ids:
        assert await user.install(TEAMS_IDS[staff_id]) == 200
    if channel:
        assert await user.install_team(TEAMS_IDS["tom"], *OAK) == 200
        assert await user.install_team(TEAMS_IDS["tom"], *ELM) == 200


@dataclass
class TeamsRig(TeamsUser):
    db: Database = None  # type: ignore[assignment]
    svc: Services = None  # type: ignore[assignment]
    platform: TeamsPlatform = None  # type: ignore[assignment]
    delivery: OutboxDelivery = None  # type: ignore[assignment]

    @property
    def clock(self):  # noqa: ANN201 - the FakeClock
        return self.svc.clock

    @staticmethod
    def user(who: str) -> str:
        return TEAMS_IDS.get(who, who)

    @classmethod
    async def start(
        cls,
        path: Path,
        now: datetime,
        *,
        enrol: bool = True,
        install: list[str] | None = None,
        register_channel: bool = True,
        rota_rows: list[dict] | None = None,
        children: list[dict] | None = None,
    ) -> TeamsRig:
        svc = await open_services(path, now, children, rota_rows)
        await enrol_on_teams(svc, list(TEAMS_IDS) if enrol else [], register_channel)
        fake, platform = await start_teams(svc)
        delivery = OutboxDelivery(
            svc.db, svc.clock, Router(svc.db, [platform]).send,
            on_undeliverable=unreachable_handler(svc),
        )  # fmt: skip
        platform.after_command = delivery.deliver_due
        rig = cls(
            fake, f"http://127.0.0.1:{platform.http_port}/api/messages",
            db=svc.db, svc=svc, platform=platform, delivery=delivery,
        )  # fmt: skip
        await install_all(rig, list(TEAMS_IDS) if install is None else install, channel=True)
        return rig

    async def say(self, who: str, text: str, channel: tuple[str, str] | None = None) -> int:
        """`who` types `text` (in their 1:1 chat, or @mentioning the bot in a channel) and the
        bot has finished with it."""
        status = await self.says(self.user(who), text, channel)
        await self.platform.settle()
        return status

    async def stop(self) -> None:
        await self.platform.stop()
        await self.close()
        await self.fake.stop()
        await self.db.close()
