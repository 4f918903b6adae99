"""Dashboard sign-in over HTTP: login codes, the `/login` exchange, logout.

`POST /api/auth/login-code` (bearer token only) answers a code and the path that redeems it;
`GET /login?code=...` swaps a live code for the session cookie and redirects to `/`, so the
code leaves the address bar; `POST /api/auth/logout` ends the caller's session and clears
its cookie.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import Conflict, Forbidden, Unauthorized
from agent.core.http import api_route, json_response
from agent.core.models_auth import LoggedOut, LoginCode
from agent.core.sessions import SessionStore

TAG = "auth"


def _sessions(request: Request) -> SessionStore:
    sessions: SessionStore | None = request.app.state.sessions
    if sessions is None:
        raise Conflict(
            "authentication is off (auth = none): the dashboard needs no sign-in",
            code="AUTH_DISABLED",
        )
    return sessions


async def login_code(request: Request) -> Response:
    sessions = _sessions(request)
    # A session may not mint codes: each code makes a fresh session, which would let a
    # captured cookie outlive its own expiry and logout.
    if request.scope.get("state", {}).get("auth") != "token":
        raise Forbidden(
            "login codes are issued only to the API token (Authorization: Bearer)",
            code="TOKEN_REQUIRED",
        )
    code = sessions.issue_code()
    body = LoginCode(
        code=code, login_path=f"/login?code={quote(code, safe='')}", expires_in=sessions.code_ttl
    )
    return json_response(body, headers={"Cache-Control": "no-store"})


async def login(request: Request) -> Response:
    sessions = request.app.state.sessions
    if sessions is None:
        return RedirectResponse("/", status_code=303)
    code = request.query_params.get("code", "")
    secret = sessions.redeem(code) if code else None
    if secret is None:
        raise Unauthorized(
            "this login link is not valid (it works once, for a minute): run "
            "`openfabric dashboard` again",
            code="INVALID_LOGIN_CODE",
        )
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(sessions.cookie_name, secret, httponly=True, samesite="strict", path="/")
    return response


async def logout(request: Request) -> Response:
    sessions = _sessions(request)
    ended = sessions.end(request.cookies.get(sessions.cookie_name))
    response = json_response(LoggedOut(logged_out=ended))
    response.delete_cookie(sessions.cookie_name, httponly=True, samesite="strict", path="/")
    return response


def routes() -> list[BaseRoute]:
    return [
        api_route(
            "/api/auth/login-code",
            login_code,
            methods=["POST"],
            tag=TAG,
            summary="A single-use dashboard login code (bearer token only), valid for "
            "`login_code_ttl` seconds, and the path that redeems it.",
            responses={403: "TOKEN_REQUIRED", 409: "AUTH_DISABLED"},
            answer=LoginCode,
        ),
        api_route(
            "/api/auth/logout",
            logout,
            methods=["POST"],
            tag=TAG,
            summary="End this browser's dashboard session and clear its cookie.",
            responses={409: "AUTH_DISABLED"},
            answer=LoggedOut,
        ),
        Route("/login", login, methods=["GET"]),
    ]
