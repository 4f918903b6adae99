#!/usr/bin/env python3
"""Storage: upload, download and replication throughput against a local hash + copy baseline.

One run, every figure in the same temporary directory under /tmp (benchmarks/README.md has the
definitions). A file of random bytes (1 GiB; --quick 256 MiB) is made first, then:

1. Baseline: the same bytes hashed with SHA-256 and copied to another file on the same
   filesystem, timed (a) in Python, one pass of 1 MiB blocks (read, hash, write) and (b) as
   `sha256sum FILE` followed by `cp FILE COPY`. The faster of the two is the baseline.
2. Upload to one agent alone (--storage-replicas 1, not joined): the file is the streamed body
   of `POST /api/storage/upload` (httpx, 1 MiB blocks, Content-Length set). Goal: >= 0.5 x.
3. Download from that agent to a file (`GET /api/storage/{path}`). Goal: >= 0.5 x.
4. Replication: two loopback agents joined (default --storage-replicas 2); upload to A, which
   answers only once every chunk is also on B; then download from B.

Every transfer is checked afterwards (size and SHA-256), outside the timed part. Before each
timed step the page cache the step will fill is primed (a scratch file of that size written and
deleted, then `sync`): on this VM, memory freed for ~2 s is handed back to the host and touching
it again costs a host page fault per page (writing 1 GiB of new page cache: ~3 s instead of 0.2 s).

    .venv/bin/python benchmarks/storage.py [--quick] [--json FILE] [--profile FILE]

--profile FILE: one more, unrecorded upload, to a fresh lone agent (a second upload of the same
bytes to the first would find every chunk stored already), under `py-spy record --idle --rate 250
--format raw -o FILE`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from subprocess import DEVNULL, Popen
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import LOOPBACK, form_cluster
from common import BenchError, Server, exit_on_signals, run_main, start_agent, stop, write_json

MIB = 1024 * 1024
GEN_BLOCK = 4 * MIB
BLOCK = MIB
GOAL = 0.5
TIMEOUT = httpx.Timeout(600.0, connect=10.0)
PATH = "bench/random.bin"


def make_file(path: Path, size: int) -> str:
    """`size` (a multiple of 4 MiB) random bytes written in 4 MiB blocks; answers their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // GEN_BLOCK):
            block = os.urandom(GEN_BLOCK)
            digest.update(block)
            f.write(block)
    return digest.hexdigest()


def cpu(proc: psutil.Process, children: bool = False) -> float:
    """User + system seconds of the process (and of its reaped children)."""
    return sum(proc.cpu_times()[: 4 if children else 2])


def prime(work: Path, size: int) -> None:
    """Write and delete `size` bytes, then sync: the timed step that follows finds recently
    freed guest memory for its page cache, not memory the host has taken back."""
    scratch, block = work / "prime.bin", bytes(GEN_BLOCK)
    with scratch.open("wb") as f:
        for _ in range(-(-size // GEN_BLOCK)):
            f.write(block)
    scratch.unlink()
    os.sync()


def timed(
    name: str,
    tmp: Path,
    size: int,
    work: Callable[[], Any],
    procs: dict[str, psutil.Process] | None = None,
    fills: int = 1,
) -> tuple[dict[str, Any], Any]:
    """Primes `fills` x `size` bytes of page cache, runs `work` once; a row with its wall time,
    MB/s and CPU % of one core of each agent in `procs` and of this process and its children."""
    prime(tmp, fills * size)
    me, procs = psutil.Process(), procs or {}
    before = {k: cpu(p) for k, p in procs.items()}, cpu(me, True)
    t0 = time.perf_counter()
    out = work()
    wall = time.perf_counter() - t0
    row = {"path": name, "seconds": round(wall, 3), "mb_per_s": round(size / wall / 1e6, 1)}
    row["agent_cpu_pct"] = {
        k: round(100 * (cpu(p) - before[0][k]) / wall) for k, p in procs.items()
    }
    row["bench_cpu_pct"] = round(100 * (cpu(me, True) - before[1]) / wall)
    print(f"  {name}: {wall:.2f} s, {row['mb_per_s']} MB/s", flush=True)
    return row, out


def python_copy(src: Path, dst: Path) -> str:
    """One pass: read 1 MiB, hash it, write it."""
    digest = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(BLOCK):
            digest.update(block)
            fout.write(block)
    return digest.hexdigest()


def shell_copy(src: Path, dst: Path) -> str:
    out = subprocess.run(["sha256sum", str(src)], check=True, capture_output=True, text=True)
    subprocess.run(["cp", str(src), str(dst)], check=True)
    return out.stdout.split()[0]


def client(server: Server) -> httpx.Client:
    auth = {"Authorization": f"Bearer {server.token}"}
    return httpx.Client(base_url=server.url, headers=auth, timeout=TIMEOUT)


def blocks(src: Path) -> Iterator[bytes]:
    with src.open("rb") as f:
        while block := f.read(BLOCK):
            yield block


def upload(http: httpx.Client, src: Path, path: str) -> dict[str, Any]:
    response = http.post(
        "/api/storage/upload",
        params={"path": path, "overwrite": "true"},
        content=blocks(src),
        headers={"Content-Length": str(src.stat().st_size)},
    )
    if response.status_code != 201:
        raise BenchError(f"POST /api/storage/upload: {response.status_code} {response.text}")
    return dict(response.json())


def download(http: httpx.Client, path: str, dst: Path) -> None:
    with http.stream("GET", f"/api/storage/{path}") as response, dst.open("wb") as f:
        if response.status_code != 200:
            raise BenchError(f"GET /api/storage/{path}: {response.status_code} {response.read()}")
        for block in response.iter_raw(BLOCK):
            f.write(block)


def check(what: str, got: str, want: str, size: int = 0, want_size: int = 0) -> None:
    if got != want or size != want_size:
        raise BenchError(f"{what}: sha256 {got} / {size} bytes, expected {want} / {want_size}")


def check_download(dst: Path, digest: str, size: int) -> None:
    with dst.open("rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    check(f"download to {dst.name}", got, digest, dst.stat().st_size, size)
    dst.unlink()


def check_upload(answer: dict[str, Any], digest: str, size: int, nodes: int) -> None:
    check("upload", answer["sha256"], digest, answer["size"], size)
    if len(answer["nodes"]) != nodes or answer["health"] != "healthy":
        raise BenchError(f"upload answered nodes {answer['nodes']}, health {answer['health']}")


def py_spy(stack: ExitStack, pid: int, out: Path) -> Popen[bytes]:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        raise BenchError(f"--profile needs {exe} (.venv/bin/pip install py-spy)")
    argv = [str(exe), "record", "--idle", "--pid", str(pid), "--rate", "250", "--format", "raw"]
    spy = Popen([*argv, "-o", str(out)], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    stack.callback(stop, spy)
    return spy


def bench_baseline(src: Path, work: Path, digest: str) -> list[dict[str, Any]]:
    size, rows, dst = src.stat().st_size, [], work / "copy.bin"
    for name, copy in (("python read+sha256+write", python_copy), ("sha256sum + cp", shell_copy)):
        row, got = timed(f"baseline: {name}", work, size, lambda c=copy: c(src, dst))
        check(name, got, digest, dst.stat().st_size, size)
        dst.unlink()
        rows.append(row)
    return rows


def lone_agent(stack: ExitStack, home: Path) -> Server:
    agent = start_agent(stack, home, *LOOPBACK, "--storage-replicas", "1")
    print(f"  lone agent pid {agent.pid}", flush=True)
    return agent


def retire(agent: Server, home: Path) -> None:
    stop(agent.process)
    shutil.rmtree(home, ignore_errors=True)  # its chunks: room for the next phase


def bench_lone(src: Path, work: Path, digest: str, agent: Server) -> list[dict[str, Any]]:
    size, procs, dst = src.stat().st_size, {"agent": psutil.Process(agent.pid)}, work / "down.bin"
    with client(agent) as http:
        name = "upload, lone agent"
        up, answer = timed(name, work, size, lambda: upload(http, src, PATH), procs)
        check_upload(answer, digest, size, 1)
        name = "download, lone agent"
        down, _ = timed(name, work, size, lambda: download(http, PATH, dst), procs)
        check_download(dst, digest, size)
        deleted = http.delete(f"/api/storage/{PATH}")
        if deleted.status_code != 200:
            raise BenchError(f"DELETE: {deleted.status_code} {deleted.text}")
    return [up, down]


def profile_upload(stack: ExitStack, src: Path, work: Path, agent: Server, out: Path) -> None:
    with client(agent) as http:
        prime(work, src.stat().st_size)
        spy = py_spy(stack, agent.pid, out)
        time.sleep(1)  # py-spy attaches
        try:
            upload(http, src, PATH)
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
    print(f"  py-spy exited with {spy.returncode}; raw samples of the agent in {out}", flush=True)


def bench_cluster(stack: ExitStack, src: Path, work: Path, digest: str) -> list[dict[str, Any]]:
    size, dst = src.stat().st_size, work / "down.bin"
    a = start_agent(stack, work / "a", *LOOPBACK)
    b = start_agent(stack, work / "b", *LOOPBACK)
    form_cluster([a, b])
    print(f"  agent A pid {a.pid}, agent B pid {b.pid}, joined", flush=True)
    procs = {"A": psutil.Process(a.pid), "B": psutil.Process(b.pid)}
    with client(a) as http_a, client(b) as http_b:
        name = "upload to A, copied to B"  # fills the page cache of A and B: prime 2 x size
        up, answer = timed(name, work, size, lambda: upload(http_a, src, PATH), procs, 2)
        check_upload(answer, digest, size, 2)
        name = "download from B"
        down, _ = timed(name, work, size, lambda: download(http_b, PATH, dst), procs)
        check_download(dst, digest, size)
    return [up, down]


def report(r: dict[str, Any]) -> None:
    base = r["baseline_mb_per_s"]
    print(f"\nstorage throughput, {r['meta']['size_mib']} MiB of random bytes, one pass each")
    print("(MB = 10^6 bytes; x base = MB/s / baseline MB/s; cpu = % of one core, bench = this")
    print(f"process; goals: lone upload and download >= {GOAL:g} x baseline)")
    head = f"{'path':34} {'seconds':>8} {'MB/s':>7} {'x base':>7} {'agent cpu':>14} {'bench':>6}"
    print(f"{head}  goal\n" + "-" * (len(head) + 6))
    for row in r["rows"]:
        agents = " ".join(f"{k} {v}%" for k, v in row["agent_cpu_pct"].items()) or "-"
        cells = [f"{row['path']:34}", f"{row['seconds']:>8.2f}", f"{row['mb_per_s']:>7.1f}"]
        cells += [f"{row['mb_per_s'] / base:>7.2f}", f"{agents:>14}", f"{row['bench_cpu_pct']:>5}%"]
        goal = "" if "goal_met" not in row else "  yes" if row["goal_met"] else "  NO"
        print(" ".join(cells) + goal)
    print(f"baseline = the faster baseline row: {base:.1f} MB/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 256 MiB file instead of 1 GiB")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="py-spy raw profile")
    args = parser.parse_args()
    size = (256 if args.quick else 1024) * MIB
    exit_on_signals()
    with ExitStack() as stack:
        tmp = tempfile.TemporaryDirectory(prefix="of-bench-storage-", dir="/tmp")
        work = Path(stack.enter_context(tmp))
        try:
            print(f"writing {size // MIB} MiB of random bytes to {work} ...", flush=True)
            src = work / "random.bin"
            digest = make_file(src, size)
            rows = bench_baseline(src, work, digest)
            print("one agent alone (--storage-replicas 1) ...", flush=True)
            rows += bench_lone(src, work, digest, agent := lone_agent(stack, work / "lone"))
            retire(agent, work / "lone")
            if args.profile is not None:
                agent = lone_agent(stack, work / "profiled")
                profile_upload(stack, src, work, agent, args.profile)
                retire(agent, work / "profiled")
            print("two agents joined (--storage-replicas 2) ...", flush=True)
            rows += bench_cluster(stack, src, work, digest)
        except (BenchError, httpx.HTTPError, OSError, subprocess.SubprocessError) as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    base = max(rows[0]["mb_per_s"], rows[1]["mb_per_s"])
    for row in rows:
        row["ratio"] = round(row["mb_per_s"] / base, 2)
    for row in rows[2:4]:
        row["goal_met"] = row["ratio"] >= GOAL
    meta = {"size_mib": size // MIB, "block_mib": BLOCK // MIB, "cpu_count": os.cpu_count()}
    result = {"rows": rows, "baseline_mb_per_s": base, "goal_ratio": GOAL, "meta": meta}
    result["goals_met"] = all(row["goal_met"] for row in rows[2:4])
    report(result)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main, "every agent")
