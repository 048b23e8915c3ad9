"""The bot's own token for calling the Bot Connector: client credentials from Entra ID (the
app password, or a certificate), through MSAL, which caches the token until near expiry.
msal is synchronous: it runs off the event loop. Nothing here is ever logged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

BOT_SCOPE = "https://api.botframework.com/.default"
AUTHORITY = "https://login.microsoftonline.com/{tenant}"


class CredentialsError(RuntimeError):
    """Entra ID refused the app's credentials; the message says which and never what."""


class ClientCredentials:
    def __init__(
        self,
        app_id: str,
        tenant_id: str,
        *,
        password: str | None = None,
        certificate: Path | None = None,
        thumbprint: str | None = None,
    ) -> None:
        credential: Any
        if certificate is not None:
            if not thumbprint:
                raise CredentialsError(
                    "A certificate needs its thumbprint (TEAMS_CERT_THUMBPRINT)."
                )
            credential = {"private_key": certificate.read_text(), "thumbprint": thumbprint}
        elif password:
            credential = password
        else:
            raise CredentialsError("Teams needs TEAMS_APP_PASSWORD or a certificate.")
        # the card buttons' seal is keyed on the secret (never on anything sent in the clear)
        self.seal_key: str = password or credential["private_key"]
        self._app_id = app_id
        self._authority = AUTHORITY.format(tenant=tenant_id)
        self._credential = credential
        self._app: Any = None  # made at the first token: MSAL reads the authority's metadata

    def _acquire(self) -> dict[str, Any]:
        import msal  # type: ignore[import-untyped]

        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self._app_id, client_credential=self._credential, authority=self._authority
            )
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[BOT_SCOPE])
        return result

    async def __call__(self) -> str:
        result = await asyncio.to_thread(self._acquire)
        token = result.get("access_token")
        if not isinstance(token, str):
            raise CredentialsError(
                f"Entra ID refused the Teams app's credentials ({result.get('error', 'no token')})."
            )
        return token
