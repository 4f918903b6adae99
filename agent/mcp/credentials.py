"""Servers' credentials: one JSON file, `<home>/mcp/credentials.json`, mode 0600 in a 0700
folder, replaced atomically on every change and read only to start a server. Kept out of
SQLite so that a copy of the database never carries them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import anyio


class CredentialVault:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = anyio.Lock()

    def read(self, server: str) -> dict[str, str]:
        found = self._load().get(server, {})
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    async def put(self, server: str, credentials: dict[str, str]) -> None:
        async with self._lock:
            everything = self._load()
            if credentials:
                everything[server] = credentials
            else:
                everything.pop(server, None)
            await anyio.to_thread.run_sync(self._write, everything)

    async def drop(self, server: str) -> None:
        await self.put(server, {})

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # Never echo the content: it is secrets.
            raise RuntimeError(f"{self.path} is unreadable or not JSON") from None
        return data if isinstance(data, dict) else {}

    def _write(self, everything: dict[str, dict[str, str]]) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".credentials-", suffix=".tmp")
        try:
            # mkstemp creates the file 0600 already; the chmod is for umask-less filesystems.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(everything, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
