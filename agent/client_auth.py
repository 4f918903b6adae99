"""The SDK's dashboard sign-in calls, mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        code = await client.login_code()
        webbrowser.open(client.base_url + code["login_path"])

A login code works once and for `expires_in` seconds; only the API token (not a dashboard
session) can ask for one. Opening `login_path` in a browser signs that browser in with a
session cookie; the token itself never reaches the browser.
"""

from __future__ import annotations

from typing import TypedDict

from agent.client_base import ClientCore


class LoginCode(TypedDict):
    code: str
    login_path: str
    expires_in: float


class LoggedOut(TypedDict):
    logged_out: bool


class AuthMixin(ClientCore):
    async def login_code(self) -> LoginCode:
        """A single-use dashboard login code (403 TOKEN_REQUIRED, 409 AUTH_DISABLED)."""
        result: LoginCode = self._json(await self._request("POST", "/api/auth/login-code"))
        return result

    async def logout(self) -> LoggedOut:
        """End the dashboard session this client's cookies carry, if any."""
        result: LoggedOut = self._json(await self._request("POST", "/api/auth/logout"))
        return result
