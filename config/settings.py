"""Settings: environment variables (WHEREABOUTS_*) over an optional YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

# The zone for times shown where no one area's preset is in reach (an export across areas, an
# invite's expiry, the console); all five areas keep UK clock time.
DISPLAY_TIMEZONE = "Europe/London"


class DatabaseUrl(str):
    """A PostgreSQL URL that prints without its password (start-up lines, logs); the
    database is opened with the whole of it (`str.__str__(url)`)."""

    def _shown(self) -> str:
        parts = urlsplit(str.__str__(self))
        if parts.password is None:
            return str.__str__(self)
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))

    def __str__(self) -> str:
        return self._shown()

    def __format__(self, spec: str) -> str:
        return format(self._shown(), spec)

    def __repr__(self) -> str:
        return repr(self._shown())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WHEREABOUTS_", extra="forbid", populate_by_name=True
    )

    # A SQLite file, or a PostgreSQL server's database as a URL (postgresql://user@host/db)
    db: Path | str = Path("whereabouts.db")
    # FULL: a commit survives power loss, not only a crash. We don't buy speed with durability.
    synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    default_area: str = "west-yorkshire"
    sweep_interval_seconds: float = (
        30.0  # safety net; the scheduler also wakes at the next due time
    )
    telegram_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_TELEGRAM_TOKEN", "TELEGRAM_BOT_TOKEN", "telegram_token"
        ),
    )
    telegram_base_url: str | None = (
        None  # a Bot API server other than Telegram's (tests, local API)
    )
    telegram_webhook_url: str | None = None  # set to use a webhook instead of long polling
    telegram_webhook_secret: SecretStr | None = None  # checked on every webhook request
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = 8443
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN", "slack_bot_token"
        ),
    )
    # Socket Mode (the default when set): an app-level token with connections:write.
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_SLACK_APP_TOKEN", "SLACK_APP_TOKEN", "slack_app_token"
        ),
    )
    # HTTP mode: Bolt checks every request's signature with it and refuses stale ones.
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET", "slack_signing_secret"
        ),
    )
    slack_base_url: str | None = None  # a Web API other than Slack's (tests); ends in "/"
    slack_mode: Literal["auto", "socket", "http"] = "auto"  # auto: Socket Mode if app token
    slack_http_listen: str = "127.0.0.1"  # HTTP mode, behind an HTTPS proxy Slack can reach
    slack_http_port: int = 3000
    slack_http_path: str = "/slack/events"
    slack_channel_period: float = 1.0  # seconds between messages into one channel
    # /healthz, /readyz and /metrics go on the server a platform runs (Telegram webhook, Slack
    # HTTP mode, Teams); with none (long polling, Socket Mode), on a server of their own here.
    http_listen: str = "127.0.0.1"
    http_port: int = 8080
    # Microsoft Teams (bot/teams/): the Entra ID app registration of the Azure Bot. The app
    # password or a certificate (PEM with its thumbprint) gets the bot's token; every inbound
    # token is checked for this app id and tenant (a single-tenant bot: only its own).
    teams_app_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("WHEREABOUTS_TEAMS_APP_ID", "TEAMS_APP_ID", "teams_app_id"),
    )
    teams_app_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_TEAMS_APP_PASSWORD", "TEAMS_APP_PASSWORD", "teams_app_password"
        ),
    )
    teams_certificate: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_TEAMS_CERTIFICATE", "TEAMS_CERTIFICATE", "teams_certificate"
        ),
    )
    teams_cert_thumbprint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_TEAMS_CERT_THUMBPRINT", "TEAMS_CERT_THUMBPRINT", "teams_cert_thumbprint"
        ),
    )
    teams_tenant_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_TEAMS_TENANT_ID", "TEAMS_TENANT_ID", "teams_tenant_id"
        ),
    )
    teams_other_tenants: list[str] = []  # a multi-tenant bot: the other tenants it serves
    teams_listen: str = "127.0.0.1"  # behind the HTTPS proxy Azure Bot's endpoint reaches
    teams_port: int = 3978
    teams_path: str = "/api/messages"
    teams_openid_metadata: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    # GOV.UK Notify (SMS and e-mail): the API key from the environment, never logged; the
    # template ids from the service's Templates page (bot/notify/platform.py says their shape).
    notify_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "WHEREABOUTS_NOTIFY_API_KEY", "NOTIFY_API_KEY", "notify_api_key"
        ),
    )
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template: str | None = None  # body ((body))
    notify_email_template: str | None = None  # subject ((subject)), body ((body))
    notify_email_file_template: str | None = None  # as the e-mail one, plus ((link_to_file))
    notify_poll_seconds: float = 30.0  # how often received texts (ACK replies) are fetched
    # `whereabouts run` and `console` (-v: DEBUG). Loggers that would print what people typed
    # or the bot's token stay quiet whatever this says (bot/logs.py).
    # Per area, the numbers a person is told to phone when nobody could be alerted
    # (config/contacts.py reads and checks them: {"west-yorkshire": {"emergency_duty_team": …}}).
    area_contacts: dict[str, dict[str, str]] = {}
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"

    @field_validator("db", mode="before")
    @classmethod
    def _file_or_url(cls, value: object) -> object:
        """A URL stays as it is (a path would fold its '//'); anything else is a file."""
        if isinstance(value, str) and value.startswith(("postgresql://", "postgres://")):
            return DatabaseUrl(value)
        return Path(value) if isinstance(value, str) else value

    @field_validator("db", mode="after")
    @classmethod
    def _printable(cls, value: Path | str) -> Path | str:
        return DatabaseUrl(value) if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("WHEREABOUTS_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)
