#!/usr/bin/env python3
"""Runs inside one network-namespace host for `cluster.py`: when did its agent become ready,
and when did it list every other agent as discovered?

    netns_probe.py [--timeout S] OWN_HOME OTHER_HOME...

Standard library only (it starts in ~30 ms). Every 50 ms, until `--timeout`: first until
OWN_HOME/agent.json exists and the agent answers `/api/health` on its loopback URL (ready),
then until its `/api/cluster/discovered` lists the node_id of every agent whose home is given
(discovered). Prints one JSON line: `ready` and `discovered` as `time.monotonic()` values (one
clock for every process on the machine, namespaces included; null if not reached), `mdns`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

POLL_S = 0.05


def agent_info(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((home / "agent.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def get(url: str, path: str, token: str) -> tuple[int, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if response.status == 200 else None
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("home", type=Path)
    parser.add_argument("others", type=Path, nargs="+")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    result: dict[str, Any] = {"ready": None, "discovered": None, "mdns": None}
    while time.monotonic() < deadline and result["discovered"] is None:
        me = agent_info(args.home)
        try:
            if me is not None and result["ready"] is None:
                get(me["url"], "/api/health", "")
                result["ready"] = time.monotonic()
            others = [agent_info(home) for home in args.others]
            if me is not None and result["ready"] is not None and all(others):
                token = (args.home / "local.token").read_text(encoding="ascii").strip()
                status, body = get(me["url"], "/api/cluster/discovered", token)
                if status == 200:
                    result["mdns"] = body["mdns"]
                    seen = {entry["node_id"] for entry in body["agents"]}
                    if {o["node_id"] for o in others if o} <= seen:
                        result["discovered"] = time.monotonic()
                        break
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            pass
        time.sleep(POLL_S)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
