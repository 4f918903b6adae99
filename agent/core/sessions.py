"""Dashboard sessions and the single-use login codes that start them.

The browser never holds the API token. `openfabric dashboard` (holding the token) asks for a
login code; the code travels in the URL it opens, lives `code_ttl` seconds and works once;
redeeming it makes a session whose secret goes only into an HttpOnly cookie. Sessions end
after `idle_ttl` seconds unused, or at logout. Only SHA-256 digests of codes and secrets are
kept, in memory: a restart ends every session, and a dump of the process's memory holds
nothing a browser could present.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Bounds on memory whatever a token holder (or a bug) asks for; the oldest go first.
MAX_CODES = 64
MAX_SESSIONS = 256


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


@dataclass
class _Session:
    last_used: float


class SessionStore:
    def __init__(
        self,
        cookie_name: str,
        *,
        idle_ttl: float,
        code_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cookie_name = cookie_name
        self.idle_ttl = idle_ttl
        self.code_ttl = code_ttl
        self.clock = clock
        self._codes: OrderedDict[bytes, float] = OrderedDict()  # digest -> expiry
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()

    def issue_code(self) -> str:
        now = self.clock()
        self._expire_codes(now)
        code = secrets.token_urlsafe(32)
        self._codes[_digest(code)] = now + self.code_ttl
        while len(self._codes) > MAX_CODES:
            self._codes.popitem(last=False)
        return code

    def redeem(self, code: str) -> str | None:
        """A new session secret for a live, unused code; the code is spent either way."""
        now = self.clock()
        expiry = self._codes.pop(_digest(code), None)
        if expiry is None or now > expiry:
            return None
        secret = secrets.token_urlsafe(32)
        self._sessions[_digest(secret)] = _Session(last_used=now)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return secret

    def check(self, secret: str | None) -> bool:
        """Whether `secret` names a live session; using it keeps it alive."""
        if not secret:
            return False
        key = _digest(secret)
        session = self._sessions.get(key)
        if session is None:
            return False
        now = self.clock()
        if now - session.last_used > self.idle_ttl:
            del self._sessions[key]
            return False
        session.last_used = now
        self._sessions.move_to_end(key)
        return True

    def end(self, secret: str | None) -> bool:
        return bool(secret) and self._sessions.pop(_digest(secret or ""), None) is not None

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def _expire_codes(self, now: float) -> None:
        for key in [k for k, expiry in self._codes.items() if now > expiry]:
            del self._codes[key]
