"""Dashboard sign-in, mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        code = await client.login_code()
        webbrowser.open(client.base_url + code.login_path)

A login code works once and for `expires_in` seconds; only the API token (not a dashboard
session) can ask for one. Opening `login_path` in a browser signs that browser in with a
session cookie; the token itself never reaches the browser.
"""

from __future__ import annotations

from agent.client.transport import Transport
from agent.core.models_auth import LoggedOut, LoginCode


class AuthMixin(Transport):
    async def login_code(self) -> LoginCode:
        """A single-use dashboard login code (403 TOKEN_REQUIRED, 409 AUTH_DISABLED)."""
        return self._model(await self._request("POST", "/api/auth/login-code"), LoginCode)

    async def logout(self) -> LoggedOut:
        """End the dashboard session this client's cookies carry, if any."""
        return self._model(await self._request("POST", "/api/auth/logout"), LoggedOut)
