#!/usr/bin/env python3
"""Cluster costs: discovery time, failure detection time, heartbeat CPU, each with a baseline.

One run; each baseline is measured in the same run (benchmarks/README.md has the details):

1. Discovery: 3 agents, mDNS on, on 3 network-namespace hosts (tests/discovery/netns.py; needs
   root, else skipped): start -> each lists both others in /api/cluster/discovered, timed by
   netns_probe.py inside each namespace. Baseline: start -> ready (agent.json, /api/health).
2. Failure detection: 3 loopback agents joined; SIGKILL one; time until both survivors publish
   node.offline for it (SSE). 3 fresh clusters (--quick: 1). Baseline: offline_after.
3. Heartbeat CPU: the same 8 loopback agents lone, then joined into one cluster; CPU % of one
   core per agent over 30 s (--quick: 10 s). The difference is the membership cost.

    .venv/bin/python benchmarks/cluster.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from http.client import HTTPException
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import REPO, BenchError, Server, exit_on_signals, run_main, start_agent

sys.path.insert(0, str(REPO))
from agent.settings import Settings
from tests.discovery import netns

LOOPBACK = ("--peer-host", "127.0.0.1", "--advertise-address", "127.0.0.1", "--mdns", "off")
DEFAULTS = Settings()  # every agent here runs with the default liveness settings
OFFLINE_AFTER_S = DEFAULTS.offline_after
LIVENESS = ("heartbeat_interval", "suspect_after", "offline_after")
GOAL_DISCOVERY_S = 2.0
PROBE_TIMEOUT_S = 30.0
FAILURES = (BenchError, OSError, HTTPException, subprocess.SubprocessError, netns.NetnsUnavailable)
NOISY_PCT = 15.0  # CPU % of one core used by anything else in a window that makes it noisy
SETTLE_S = 5.0  # warm-up window before each CPU window, not recorded (start / join transients)


def api(server: Server, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        if response.status != 200:
            raise BenchError(f"{method} {path} on {server.url}: {response.status} {raw[:300]!r}")
        return json.loads(raw)
    finally:
        conn.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (OSError, HTTPException, BenchError):
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def online(server: Server) -> int:
    status = api(server, "GET", "/api/status")
    return int(status["online_count"]) if status.get("in_cluster") else 1


def form_cluster(agents: list[Server], timeout: float = 90) -> None:
    for joiner in agents[1:]:
        token = api(agents[0], "GET", "/api/cluster/join-token")["token"]
        api(joiner, "POST", "/api/cluster/join-remote", {"token": token})
    for agent in agents:
        wait_for(lambda a=agent: online(a) == len(agents), timeout, f"{len(agents)} online")


def start_loopback(stack: ExitStack, workdir: Path, n: int, prefix: str) -> list[Server]:
    return [start_agent(stack, workdir / f"{prefix}{i}", *LOOPBACK) for i in range(n)]


def bench_discovery(workdir: Path) -> dict[str, Any]:
    reason = netns.unavailable_reason()
    if reason is not None:
        return {"skipped": f"network namespaces unavailable: {reason}"}
    homes = [workdir / f"ns{i}" for i in range(3)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENFABRIC_")}
    with netns.network(3) as hosts, ExitStack() as files:
        probes = []
        for home, host in zip(homes, hosts, strict=True):
            home.mkdir()
            others = [str(h) for h in homes if h != home]
            argv = [sys.executable, str(Path(__file__).parent / "netns_probe.py")]
            argv += ["--timeout", str(PROBE_TIMEOUT_S), str(home), *others]
            probes.append(host.run(argv, stdout=subprocess.PIPE, text=True))
        started = time.monotonic()
        for home, host in zip(homes, hosts, strict=True):
            log = files.enter_context((workdir / f"{home.name}.log").open("wb"))
            host.run(
                [sys.executable, "-m", "agent", "--port", "0", "--peer-port", "0", "--mdns", "on"],
                cwd=REPO,
                env={**env, "OPENFABRIC_HOME": str(home), "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        found = [json.loads(p.communicate(timeout=PROBE_TIMEOUT_S + 15)[0]) for p in probes]
    ready = [f["ready"] - started if f["ready"] else None for f in found]
    seen = [f["discovered"] - started if f["discovered"] else None for f in found]
    if None in ready or None in seen:
        tail = (workdir / "ns0.log").read_text(errors="replace")[-2000:]
        raise BenchError(f"discovery incomplete after {PROBE_TIMEOUT_S:g} s: {found}\n{tail}")
    return {"ready_s": [round(r, 3) for r in ready], "discovered_s": [round(s, 3) for s in seen]}


def watch(server: Server, victim: str, seen: dict[str, float], ready: threading.Event) -> None:
    """Follow a survivor's node events; note when it reports `victim` suspect and offline."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=OFFLINE_AFTER_S + 20)
    try:
        path = "/api/events?topics=node.suspect,node.offline"
        conn.request("GET", path, headers={"Authorization": f"Bearer {server.token}"})
        response = conn.getresponse()
        ready.set()
        topic = ""
        for raw in response:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                topic = line[6:].strip()
            elif line.startswith("data:") and json.loads(line[5:]).get("node_id") == victim:
                seen.setdefault(topic, time.monotonic())
                if topic == "node.offline":
                    return
    except (OSError, HTTPException, ValueError):
        pass
    finally:
        ready.set()
        conn.close()


def detect_once(workdir: Path, rep: int) -> dict[str, Any]:
    with ExitStack() as stack:
        agents = start_loopback(stack, workdir, 3, f"fd{rep}-")
        form_cluster(agents)
        victim = agents[2]
        victim_id = api(victim, "GET", "/api/status")["node_id"]
        seens: list[dict[str, float]] = [{}, {}]
        threads = []
        for survivor, seen in zip(agents[:2], seens, strict=True):
            ready = threading.Event()
            thread = threading.Thread(target=watch, args=(survivor, victim_id, seen, ready))
            thread.daemon = True
            thread.start()
            ready.wait(10)
            threads.append(thread)
        killed = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(max(0.1, killed + OFFLINE_AFTER_S + 20 - time.monotonic()))
    if any("node.offline" not in seen for seen in seens):
        raise BenchError(f"a survivor did not report the killed agent offline: {seens}")
    return {
        topic: [round(seen[topic] - killed, 3) for seen in seens]
        for topic in ("node.suspect", "node.offline")
        if all(topic in seen for seen in seens)
    }


def heartbeats_sent(server: Server) -> float:
    metrics = api(server, "GET", "/api/metrics")["metrics"]
    samples = [s for m in metrics for s in m["samples"]]
    return sum(s["value"] for s in samples if s["name"] == "openfabric_heartbeats_sent_total")


def cpu_window(agents: list[Server], seconds: float) -> dict[str, Any]:
    procs = [psutil.Process(a.pid) for a in agents]
    beats = [heartbeats_sent(a) for a in agents]
    cpu = [common.tree_cpu_seconds(p) for p in procs]
    busy, start = common.system_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - start
    if any(not p.is_running() for p in procs):
        raise BenchError("an agent exited during the CPU window")
    used = [common.tree_cpu_seconds(p) - c for p, c in zip(procs, cpu, strict=True)]
    pct = [round(100 * u / wall, 2) for u in used]
    other = round(100 * (common.system_busy_seconds() - busy - sum(used)) / wall, 1)
    rates = [(heartbeats_sent(a) - b) / wall for a, b in zip(agents, beats, strict=True)]
    return {
        "per_agent_pct": pct,
        "mean_pct": round(statistics.fmean(pct), 2),
        "max_pct": max(pct),
        "total_pct": round(sum(pct), 2),
        "other_cpu_pct": other,  # everything else on the machine, % of one core
        "heartbeats_per_s": round(statistics.fmean(rates), 1),
    }


def bench_cpu(workdir: Path, n: int, seconds: float) -> dict[str, Any]:
    with ExitStack() as stack:
        agents = start_loopback(stack, workdir, n, "hb")
        print(f"  {n} lone agents: settle {SETTLE_S:g} s, measure {seconds:g} s", flush=True)
        time.sleep(SETTLE_S)
        lone = cpu_window(agents, seconds)
        form_cluster(agents)
        print(f"  joined, all {n} online: settle {SETTLE_S:g} s, measure {seconds:g} s", flush=True)
        time.sleep(SETTLE_S)
        joined = cpu_window(agents, seconds)
        still = [online(a) for a in agents]
        pids = [a.pid for a in agents]
    if still != [n] * n:
        print(f"  warning: after the window the agents saw {still} nodes online", file=sys.stderr)
    return dict(agents=n, seconds=seconds, pids=pids, lone=lone, joined=joined, online=still)


def stop_children() -> None:
    """Last resort: a signal that lands inside Popen leaves that child unregistered."""
    children = psutil.Process().children()
    for child in children:
        with suppress(psutil.Error):
            child.terminate()
    for child in psutil.wait_procs(children, timeout=10)[1]:
        with suppress(psutil.Error):
            child.kill()


def report(result: dict[str, Any]) -> None:
    rows = [["measurement", "result", "baseline", "difference", "goal", "met"]]

    def add(cells: str) -> None:
        rows.append([*cells.split("|"), "", "", "", "", ""][:6])

    disc = result["discovery"]
    if "skipped" in disc:
        add("discovery, 3 netns hosts|skipped||||" + disc["skipped"])
    else:
        total, ready = max(disc["discovered_s"]), max(disc["ready_s"])
        add(
            f"discovery, 3 netns hosts|all seen {total:.2f} s|ready {ready:.2f} s|"
            f"mDNS +{total - ready:.2f} s|<= {GOAL_DISCOVERY_S:g} s|"
            + ("yes" if total <= GOAL_DISCOVERY_S else "NO")
        )
    off = result["failure"]["offline_s"]
    med, limit = statistics.median(off), OFFLINE_AFTER_S
    add(
        f"failure detection, x{len(off)}|median {med:.2f} s|offline_after {limit:g} s|"
        f"ratio {med / limit:.2f}|<= {limit:g} s|" + ("yes" if max(off) <= limit else "NO")
    )
    add(f"  min / max|{min(off):.2f} / {max(off):.2f} s||ratio {max(off) / limit:.2f} max")
    cpu, n = result["cpu"], result["cpu"]["agents"]
    for key, label in (("mean_pct", "mean"), ("max_pct", "max"), ("total_pct", "all")):
        joined, lone = cpu["joined"][key], cpu["lone"][key]
        goal = ("|<= 1 %|" + ("yes" if joined - lone <= 1 else "NO")) if label == "mean" else ""
        add(
            f"CPU % of a core, {n} joined, {label}|{joined:.2f} %|lone {lone:.2f} %|"
            f"{joined - lone:+.2f} %{goal}"
        )
    beats = cpu["joined"]["heartbeats_per_s"]
    expected = (n - 1) / DEFAULTS.heartbeat_interval
    add(f"  heartbeats sent/s/agent|{beats:g}|{n - 1} peers / interval = {expected:g}")
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("-" * (sum(widths) + 10))
    noise = [cpu[k]["other_cpu_pct"] for k in ("lone", "joined")]
    warn = "  (noisy: repeat the run)" if max(noise) > NOISY_PCT else ""
    print(f"\nother processes during the CPU windows: {noise[0]:g} % / {noise[1]:g} %{warn}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 detection, 10 s CPU windows")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    exit_on_signals()
    reps, seconds = (1, 10.0) if args.quick else (3, 30.0)
    result: dict[str, Any] = {"quick": args.quick, "cpu_count": psutil.cpu_count()}
    result["settings"] = {k: getattr(DEFAULTS, k) for k in LIVENESS}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-cluster-")))
        stack.callback(stop_children)
        try:
            print("discovery: 3 agents on 3 network-namespace hosts, mDNS on ...", flush=True)
            result["discovery"] = bench_discovery(workdir)
            print(f"  {result['discovery']}", flush=True)
            detections = []
            for rep in range(reps):
                print(f"failure detection {rep + 1}/{reps}: 3 agents, SIGKILL one ...", flush=True)
                detections.append(detect_once(workdir, rep))
                print(f"  {detections[-1]}", flush=True)
            offline = [max(d["node.offline"]) for d in detections]
            result["failure"] = {"offline_s": offline, "runs": detections}
            print("heartbeat CPU: 8 agents, lone then joined ...", flush=True)
            result["cpu"] = bench_cpu(workdir, 8, seconds)
        except FAILURES as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print()
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    run_main(main, "every agent and namespace")
