"""Who may send the bot an activity: every request's bearer token is checked before anything
of the request is read.

The Bot Connector signs each activity it sends with a key it publishes: its OpenID metadata
document names the key set (JWKS), and each key lists the channels it may sign for
("endorsements"). A token is accepted only if it is signed with one of those keys (RS256), by
the metadata's issuer, for this app (audience = the app id), unexpired, endorsed for the
activity's channel, for the activity's own service URL, and from an allowed tenant (a
single-tenant deployment: only its own). Anything else is refused (401) and dropped.

The keys are fetched when first needed and again when a token names a key not yet seen (at
most once a minute, so forged key ids can't make us hammer the metadata service), and every
day, as Microsoft rotates them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

BOT_FRAMEWORK_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
LEEWAY = 300  # seconds of clock skew allowed on exp/nbf (the Bot Framework's own figure)
REFETCH_UNKNOWN_KEY = 60.0  # seconds between fetches caused by an unknown key id
KEYS_LIFETIME = 24 * 3600.0  # keys are fetched again after a day
FETCH_TIMEOUT = 10.0

log = logging.getLogger(__name__)


class Refused(Exception):
    """The request is not from the Bot Connector for this app and an allowed tenant."""


@dataclass(frozen=True)
class Caller:
    """What a checked token says: its claims and the channels its key may sign for."""

    claims: dict[str, Any]
    endorsements: frozenset[str]


@dataclass
class _Keys:
    issuer: str = ""
    keys: dict[str, tuple[jwt.PyJWK, frozenset[str]]] = field(default_factory=dict)
    fetched_at: float = float("-inf")


def activity_tenant(activity: dict[str, Any]) -> str:
    """The tenant an activity comes from (channelData.tenant.id, else conversation.tenantId)."""
    channel_data = activity.get("channelData") or {}
    tenant = (
        (channel_data.get("tenant") or {}).get("id") if isinstance(channel_data, dict) else None
    )
    conversation = activity.get("conversation") or {}
    return str(
        tenant or (conversation.get("tenantId") if isinstance(conversation, dict) else "") or ""
    )


class BotFrameworkAuth:
    def __init__(
        self,
        app_id: str,
        tenants: frozenset[str],
        metadata_url: str = BOT_FRAMEWORK_METADATA,
        *,
        leeway: int = LEEWAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not app_id or not tenants:
            raise ValueError("an app id and at least one tenant are needed")
        self.app_id = app_id
        self.tenants = tenants
        self.metadata_url = metadata_url
        self.leeway = leeway
        self._monotonic = monotonic
        self._keys = _Keys()
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the token (before the body is read) ---------------------------------------------

    async def check_token(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise Refused("no bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Refused("not a token") from exc
        if header.get("alg") != "RS256":
            raise Refused("not signed with RS256")
        key, endorsements = await self._key(str(header.get("kid") or ""))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=self._keys.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Refused(type(exc).__name__) from exc
        tenant = claims.get("tid")
        if tenant is not None and tenant not in self.tenants:
            raise Refused("token for another tenant")
        return Caller(claims, endorsements)

    # ---- the activity it came with -------------------------------------------------------

    def check_activity(self, caller: Caller, activity: dict[str, Any]) -> None:
        """The token must be for this activity's service URL, channel and an allowed tenant."""
        service_url = str(activity.get("serviceUrl") or "").rstrip("/")
        claimed = str(caller.claims.get("serviceurl") or caller.claims.get("serviceUrl") or "")
        if not service_url or claimed.rstrip("/") != service_url:
            raise Refused("service URL not the token's")
        if str(activity.get("channelId") or "") not in caller.endorsements:
            raise Refused("key not endorsed for the channel")
        if activity_tenant(activity) not in self.tenants:
            raise Refused("activity from another tenant")

    # ---- the published keys ------------------------------------------------------------

    async def warm(self) -> bool:
        """Read the keys before the first request needs them; False (and a warning) if they
        can't be read yet: every request is refused until they can."""
        try:
            self._keys = await self._fetch()
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            log.warning(
                "teams: can't read the Bot Framework's signing keys yet (%s); every request "
                "is refused until they can be read",
                type(exc).__name__,
            )
            return False
        return True

    async def _key(self, kid: str) -> tuple[jwt.PyJWK, frozenset[str]]:
        now = self._monotonic()
        known = self._keys.keys.get(kid)
        stale = now - self._keys.fetched_at > KEYS_LIFETIME
        if known is not None and not stale:
            return known
        async with self._lock:
            if (
                kid not in self._keys.keys and now - self._keys.fetched_at > REFETCH_UNKNOWN_KEY
            ) or (now - self._keys.fetched_at > KEYS_LIFETIME):
                try:
                    self._keys = await self._fetch()
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                    if not self._keys.keys:
                        raise Refused(
                            f"can't read the signing keys ({type(exc).__name__})"
                        ) from exc
        found = self._keys.keys.get(kid)
        if found is None:
            raise Refused("signed with an unknown key")
        return found

    async def _fetch(self) -> _Keys:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
            )
        metadata = await self._json(self.metadata_url)
        jwks = await self._json(str(metadata["jwks_uri"]))
        keys: dict[str, tuple[jwt.PyJWK, frozenset[str]]] = {}
        for entry in jwks.get("keys") or []:
            if not isinstance(entry, dict) or not entry.get("kid"):
                continue
            try:
                key = jwt.PyJWK(entry, algorithm="RS256")
            except jwt.PyJWTError:
                continue
            keys[str(entry["kid"])] = (key, frozenset(entry.get("endorsements") or ()))
        return _Keys(str(metadata["issuer"]), keys, self._monotonic())

    async def _json(self, url: str) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(url) as response:
            response.raise_for_status()
            data = json.loads(await response.text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
