#!/usr/bin/env python3
"""Dashboard cost: the Overview's main-thread busy time while 32 members stream telemetry, and
the time from a member's heartbeat to the change on screen, each with a same-run baseline.

One real agent (`python -m agent`, free ports, mDNS off, telemetry every 1 s) and headless
Chromium (Debian's, through playwright), signed in through the login link. Three windows,
each after a warm-up that is not recorded (10 s) and lasting `--seconds` (60):

1. **Alone**: the Overview of the agent with no other member. Baseline of the busy time.
2. **Members**: `sim_members.py` admits `--members` (32) simulated members through the real
   join protocol, each with its own node key, and each sends a signed `/peer/heartbeat` once a
   second (spread over the second) with a fresh sample whose `cpu.percent` is a marker
   unique per member and beat. The agent publishes each as `node.heartbeat`; the Overview
   (opened afresh, once it shows every member's card) applies it to that member's card.
   - Busy time: the deltas of Chromium's `Performance.getMetrics` (CDP) over the window:
     `TaskDuration` (main-thread tasks, wall time) / window, as % of one core; `ScriptDuration`,
     `LayoutDuration`, `RecalcStyleDuration` break it down, `ThreadTime` is the main thread's
     CPU time and `ProcessTime` the renderer process's. **Goal**: TaskDuration <= 5 %.
   - Latency: a MutationObserver in the page notes when a card's `[data-field="cpu"]` text
     becomes a marker (`pct()`: one decimal and "%"); latency = the first time the card
     shows that heartbeat's marker or a newer one, minus the wall time taken just before the
     heartbeat was sent (`dashboard_latency.py`). Every heartbeat sent in the window counts;
     one not on screen `GRACE_S` after the window counts as infinitely late. The table also
     counts how often a card went back to an older sample than it had shown.
     **Goal**: p95 <= 250 ms.
3. **Bare reader**: the same members still streaming, and a blank page on the agent's origin
   (no dashboard code) reading `/api/events?topics=node.heartbeat` with an EventSource. Its
   arrival times are the latency floor: agent + event stream + browser networking, without
   rendering.

Page times are `performance.timeOrigin + performance.now()`, put on this process's clock by
an offset measured per page (minimum round trip of 15 evaluations; printed, and it is
normally under a millisecond). The observers run in the page, so their cost is part of the
busy time in both busy windows alike. The Overview is 1280x900 px, so cards below the fold are
updated but not painted, as for a person looking at it. The CPU used by the agent, the
simulated members, the browser and everything else on the machine is recorded per window;
the run is flagged as noisy when anything else used over 15 % of a core.

    .venv/bin/python benchmarks/dashboard.py [--members N] [--seconds S] [--warmup S]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import CDPSession, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dashboard_page as browser_side
from common import (
    BENCH,
    REPO,
    BenchError,
    Server,
    exit_on_signals,
    run_main,
    start_agent,
    stop,
    system_busy_seconds,
    tree_cpu_seconds,
    write_json,
)
from dashboard_latency import latencies
from dashboard_report import report

AGENT_ARGS = (
    "--peer-host",
    "127.0.0.1",
    "--advertise-address",
    "127.0.0.1",
    "--mdns",
    "off",
    "--telemetry-interval",
    "1",
)
GRACE_S = 3.0  # after a window, how long a heartbeat sent in it may still take to show
MEMBERS_READY_S = 180.0


class Members:
    """`sim_members.py` as a subprocess; its sends are read back from its log."""

    def __init__(self, stack: ExitStack, workdir: Path, agent: Server, count: int) -> None:
        self.log = workdir / "sends.jsonl"
        ready = workdir / "members.json"
        output = workdir / "members.log"
        cmd = [sys.executable, str(BENCH / "sim_members.py"), "--url", agent.url]
        cmd += ["--token-file", str(workdir / "agent-home" / "local.token")]
        cmd += ["--members", str(count), "--workdir", str(workdir / "members")]
        cmd += ["--log", str(self.log), "--ready", str(ready)]
        with output.open("wb") as out:
            self.process = subprocess.Popen(
                cmd,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(stop, self.process)
        deadline = time.monotonic() + MEMBERS_READY_S
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = output.read_text(errors="replace")[-3000:]
                raise BenchError(f"the simulated members did not all come online:\n{tail}")
            time.sleep(0.1)
        self.ids = [node for node, _ in json.loads(ready.read_text(encoding="utf-8"))["members"]]

    def sends(self) -> list[tuple[str, str, float, int]]:
        """(node_id, marker text, sent at, HTTP status) for every heartbeat sent so far."""
        found = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                node, _seq, percent, sent, status = json.loads(line)
            except ValueError:
                continue  # the line being written
            found.append((node, f"{percent:.1f}%", float(sent), int(status)))
        return found


class CpuMeter:
    """CPU seconds of the agent, the members, the browser (every other child of this
    process), this process, and everything else on the machine."""

    def __init__(self, agent: Server) -> None:
        self.me = psutil.Process()
        self.agent = psutil.Process(agent.pid)
        self.members: psutil.Process | None = None

    def snapshot(self) -> dict[str, float]:
        own = self.me.cpu_times()
        return {
            "wall": time.monotonic(),
            "system": system_busy_seconds(),
            "tree": tree_cpu_seconds(self.me),
            "agent": tree_cpu_seconds(self.agent),
            "members": tree_cpu_seconds(self.members) if self.members else 0.0,
            "bench": own.user + own.system,
        }

    @staticmethod
    def shares(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        d = {k: b[k] - a[k] for k in a}
        wall = d.pop("wall")
        d["browser"] = d["tree"] - d["agent"] - d["members"] - d["bench"]
        d["other"] = d.pop("system") - d.pop("tree")
        return {k: round(100 * v / wall, 1) for k, v in d.items()}


def measure(
    page: Page, cdp: CDPSession | None, meter: CpuMeter, warmup: float, seconds: float
) -> dict[str, Any]:
    """One window: busy-time metrics (if `cdp`), CPU shares, and the page's observations
    from the window's start until GRACE_S after its end."""
    reloads: list[float] = []

    def note_reload(request: Any) -> None:
        if "/api/nodes" in request.url:
            reloads.append(time.time())

    page.on("request", note_reload)
    # Waiting through playwright (not time.sleep) keeps its event handlers running on time.
    page.wait_for_timeout(warmup * 1000)
    browser_side.take(page)
    before = browser_side.metrics(cdp) if cdp else {}
    cpu_before = meter.snapshot()
    start = time.time()
    page.wait_for_timeout(seconds * 1000)
    after = browser_side.metrics(cdp) if cdp else {}
    cpu_after = meter.snapshot()
    end = time.time()
    page.wait_for_timeout(GRACE_S * 1000)
    result: dict[str, Any] = {"start": start, "end": end, "observed": browser_side.take(page)}
    page.remove_listener("request", note_reload)
    # The member list re-read (a resync or a state change): a sign of trouble during a window.
    result["node_list_reads"] = sum(start <= t <= end for t in reloads)
    result["cpu_pct"] = CpuMeter.shares(cpu_before, cpu_after)
    if cdp:
        result["busy_pct"] = browser_side.busy_shares(before, after)
    return result


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity as None, so the JSON file is standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def run(args: argparse.Namespace, stack: ExitStack, workdir: Path) -> dict[str, Any]:
    warmup, seconds = args.warmup, args.seconds
    print("starting the agent and Chromium ...", flush=True)
    agent = start_agent(stack, workdir, *AGENT_ARGS)
    meter = CpuMeter(agent)
    pw = stack.enter_context(sync_playwright())
    browser = browser_side.launch(pw)
    stack.callback(browser.close)
    result: dict[str, Any] = {
        "meta": {
            "members": args.members,
            "seconds": seconds,
            "warmup": warmup,
            "grace_s": GRACE_S,
            "chromium": browser.version,
            "viewport": browser_side.VIEWPORT,
            "cpu_count": psutil.cpu_count(),
            "agent_pid": agent.pid,
        }
    }
    print(f"1/3 Overview, agent alone: warm-up {warmup:g} s, measure {seconds:g} s", flush=True)
    page, cdp = browser_side.open_overview(browser, agent.url, agent.token, cards=0)
    alone = measure(page, cdp, meter, warmup, seconds)
    browser_side.close(page)
    result["alone"] = {k: alone[k] for k in ("busy_pct", "cpu_pct", "node_list_reads")}

    print(f"admitting {args.members} simulated members ...", flush=True)
    members = Members(stack, workdir, agent, args.members)
    meter.members = psutil.Process(members.process.pid)
    ids = set(members.ids)
    print(
        f"2/3 Overview, {args.members} members streaming: warm-up {warmup:g} s, "
        f"measure {seconds:g} s",
        flush=True,
    )
    page, cdp = browser_side.open_overview(browser, agent.url, agent.token, args.members)
    offset = browser_side.clock_offset(page)
    loaded = measure(page, cdp, meter, warmup, seconds)
    browser_side.close(page)
    lat = latencies(
        members.sends(), loaded["observed"], offset.offset_ms, loaded["start"], loaded["end"], ids
    )
    result["members"] = {k: loaded[k] for k in ("busy_pct", "cpu_pct", "node_list_reads")}
    result["members"]["latency"] = lat | {"clock": browser_side.as_dict(offset)}

    print(
        f"3/3 bare event reader, {args.members} members streaming: warm-up {warmup:g} s, "
        f"measure {seconds:g} s",
        flush=True,
    )
    page = browser_side.open_bare(browser, agent.url, agent.token)
    offset = browser_side.clock_offset(page)
    bare = measure(page, None, meter, warmup, seconds)
    browser_side.close(page)
    lat = latencies(
        members.sends(), bare["observed"], offset.offset_ms, bare["start"], bare["end"], ids
    )
    result["bare"] = {"cpu_pct": bare["cpu_pct"]}
    result["bare"]["latency"] = lat | {"clock": browser_side.as_dict(offset)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=32, help="simulated members (32)")
    parser.add_argument("--seconds", type=float, default=60.0, help="each window (60)")
    parser.add_argument("--warmup", type=float, default=10.0, help="before each window (10)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    if args.members < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--members must be >= 1, --seconds > 0 and --warmup >= 0")
    exit_on_signals()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-dash-")))
        try:
            result = run(args, stack, workdir)
        except (BenchError, RuntimeError, OSError, PlaywrightError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print()
    report(result)
    write_json(args.json, finite(result))
    return 0


if __name__ == "__main__":
    run_main(main, "the agent, the members and the browser")
