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
        import msal  # type: ignore[import-untyped]

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
        self._app = msal.ConfidentialClientApplication(
            app_id, client_credential=credential, authority=AUTHORITY.format(tenant=tenant_id)
        )

    async def __call__(self) -> str:
        result: dict[str, Any] = await asyncio.to_thread(
            self._app.acquire_token_for_client, scopes=[BOT_SCOPE]
        )
        token = result.get("access_token")
        if not isinstance(token, str):
            raise CredentialsError(
                f"Entra ID refused the Teams app's credentials ({result.get('error', 'no token')})."
            )
        return token
