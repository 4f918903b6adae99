#!/usr/bin/env python3
"""LLM proxy overhead: what the agent adds to a streamed chat, side by side in one run.

The backend is the Ollama protocol double (`tests.fakes.ollama`; real Ollama can't run here),
which like Ollama answers with TCP_NODELAY on, replying N word-tokens (200;
--quick 50) `TOKEN_DELAY_S` apart, so generation speed is known (~500 tokens/s) and any
difference is the proxy's. Two loopback agents (default settings, mDNS off) are joined: B's double
has the model, A's has none. K streamed requests per path (20; --quick 5), each path on its own
keep-alive httpx client, one request at a time, the paths taking turns, after 2 warm-ups each:

1. direct       POST <B's double>/api/chat (NDJSON), the floor
2. local        POST B /api/llm/chat (SSE)
3. local /v1    POST B /v1/chat/completions, stream=true
4. peer hop     POST A /api/llm/chat, routed to B over the peer channel

TTFT: request sent -> first non-empty content chunk read. Tokens/s: (chunks - 1) / (last chunk
- first chunk). Goals per agent path: p50 TTFT <= direct + 5 ms; p50 tokens/s >= 90 % of direct.

    .venv/bin/python benchmarks/llm_proxy.py [--quick] [--json FILE] [--requests K]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repo, for tests.fakes
import common
from cluster import LOOPBACK, api, form_cluster, wait_for
from common import BenchError, Server, exit_on_signals, run_main, start_agent, write_json

import tests.fakes.ollama as double

MODEL = "llama3.2:3b"
TOKEN_DELAY_S = 0.002
WARMUP = 2
GOAL_ADDED_TTFT_MS, GOAL_LOSS_PCT = 5.0, 10.0
READY_S = 60.0
PROMPT = [{"role": "user", "content": "Say something long."}]

# A parser takes one response line and returns ("token", text), ("end", None) or None.
Parsed = tuple[str, str | None] | None


def parse_ollama(line: str) -> Parsed:
    if not line:
        return None
    data = json.loads(line)
    if "error" in data:
        raise BenchError(f"Ollama error: {data['error']}")
    if data.get("done"):
        return "end", None
    content = (data.get("message") or {}).get("content")
    return ("token", content) if content else None


class SseParser:
    """`/api/llm/chat`: `event: token` + `data: {"content"}` ..., then `event: done`."""

    def __init__(self) -> None:
        self.event = ""

    def __call__(self, line: str) -> Parsed:
        if line.startswith("event:"):
            self.event = line[6:].strip()
        elif line.startswith("data:"):
            if self.event == "error":
                raise BenchError(f"agent error event: {line[5:].strip()[:300]}")
            if self.event == "done":
                return "end", None
            if self.event == "token":
                return "token", json.loads(line[5:])["content"]
        return None


def parse_openai(line: str) -> Parsed:
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return "end", None
    data = json.loads(payload)
    if "error" in data:
        raise BenchError(f"/v1 error chunk: {data['error']}")
    content = data["choices"][0]["delta"].get("content")
    return ("token", content) if content else None


class Way:
    """One way to the model: a keep-alive client, the URL, the body and the line parser."""

    def __init__(
        self, name: str, base: str, path: str, token: str, body: dict[str, Any],
        parser: Callable[[], Callable[[str], Parsed]],
    ) -> None:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.name, self.path, self.body, self.parser = name, path, body, parser
        self.client = httpx.Client(base_url=base, headers=headers, timeout=60, trust_env=False)
        self.ttft: list[float] = []
        self.rate: list[float] = []
        self.chunks: list[int] = []

    def request(self, expected: str, record: bool) -> None:
        parse, stamps, text = self.parser(), [], []
        t0 = time.perf_counter()
        with self.client.stream("POST", self.path, json=self.body) as response:
            if response.status_code != 200:
                response.read()
                raise BenchError(f"{self.name}: {response.status_code} {response.text[:500]}")
            ended = False
            for line in response.iter_lines():  # to the end, so the connection is kept
                parsed = None if ended else parse(line)
                if parsed is None:
                    continue
                if parsed[0] == "end":
                    ended = True
                    continue
                stamps.append(time.perf_counter())
                text.append(parsed[1])
        if not ended or "".join(text) != expected:
            got = "".join(text)[:200]
            raise BenchError(f"{self.name}: incomplete or wrong answer (ended={ended}): {got!r}")
        if record:
            self.ttft.append(stamps[0] - t0)
            self.rate.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
            self.chunks.append(len(stamps))

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.ttft),
            "chunks": min(self.chunks),
            "ttft_p50_ms": round(pct(self.ttft, 0.5) * 1000, 3),
            "ttft_p90_ms": round(pct(self.ttft, 0.9) * 1000, 3),
            "tokens_per_s_p50": round(pct(self.rate, 0.5), 1),
            "tokens_per_s_p10": round(pct(self.rate, 0.1), 1),
        }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def model_nodes(server: Server) -> list[str]:
    models = api(server, "GET", "/api/llm/models")["models"]
    return [n["node_id"] for m in models if m["name"] == MODEL for n in m["nodes"]]


def start_double(
    stack: ExitStack, workdir: Path, name: str, models: list[str], reply: str
) -> tuple[str, int]:
    """`python -m tests.fakes.ollama` as a subprocess; returns (url, pid) once it answers."""
    fake = double.FakeOllama(models=models, reply_text=reply, token_delay_s=TOKEN_DELAY_S)
    state, log = workdir / f"ollama-{name}.json", workdir / f"ollama-{name}.log"
    state.write_text(json.dumps(fake.to_state()), encoding="utf-8")
    cmd = [sys.executable, "-m", "tests.fakes.ollama", "--port", "0", "--state-file", str(state)]
    process = common._spawn(stack, cmd, common._env({}), log)
    url = ""

    def ready() -> bool:
        nonlocal url
        url = log.read_text(errors="replace").partition("\n")[0].strip()
        return url.startswith("http://") and common.http_get(url[7:], "/")[0] == 200

    common._wait(process, log, f"the Ollama double {name}", ready)
    return url, process.pid


def setup(stack: ExitStack, workdir: Path, reply: str) -> tuple[list[Way], dict[str, int]]:
    fakes = {n: start_double(stack, workdir, n, m, reply) for n, m in (("a", []), ("b", [MODEL]))}
    a = start_agent(stack, workdir / "a", *LOOPBACK, "--ollama-url", fakes["a"][0])
    b = start_agent(stack, workdir / "b", *LOOPBACK, "--ollama-url", fakes["b"][0])
    form_cluster([a, b])
    node_b = api(b, "GET", "/api/status")["node_id"]
    wait_for(lambda: node_b in model_nodes(b), READY_S, f"B to list {MODEL}")
    wait_for(lambda: node_b in model_nodes(a), READY_S, f"A to list {MODEL} on B")
    body = {"model": MODEL, "messages": PROMPT, "stream": True}
    paths = [
        Way("direct (double)", fakes["b"][0], "/api/chat", "", body, lambda: parse_ollama),
        Way("local /api/llm/chat", b.url, "/api/llm/chat", b.token, body, SseParser),
        Way("local /v1 (stream)", b.url, "/v1/chat/completions", b.token, body,
              lambda: parse_openai),
        Way("peer hop A -> B", a.url, "/api/llm/chat", a.token, body, SseParser),
    ]  # fmt: skip
    for p in paths:
        stack.callback(p.client.close)
    pids = {"agent_a": a.pid, "agent_b": b.pid, "ollama_b": fakes["b"][1]}
    return paths, pids


def run(paths: list[Way], reply: str, k: int) -> None:
    for i in range(WARMUP + k):  # the paths take turns, so drift hits them alike
        for p in paths:
            p.request(reply, record=i >= WARMUP)
        if i + 1 - WARMUP in (k // 2, k):
            print(f"  {i + 1 - WARMUP}/{k} rounds", flush=True)


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def report(r: dict[str, Any]) -> None:
    meta = r["meta"]
    print(f"\nstreamed chat, {meta['tokens']} tokens {meta['token_delay_ms']:g} ms apart "
          f"(double ~{meta['nominal_tokens_per_s']:.0f} tok/s), {meta['requests']} requests "
          "per path, one at a time")  # fmt: skip
    head = f"{'path':20} {'n':>3} {'chunks':>6} {'TTFT p50':>8} {'p90':>7} {'tok/s p50':>9}"
    head += f" {'p10':>6} {'+TTFT ms':>8} {'loss %':>7} {'TTFT ok':>7} {'tput ok':>7}"
    print(head + "\n" + "-" * len(head))
    for name, x in r["paths"].items():
        cells = [f"{name:20}", f"{x['n']:>3}", f"{x['chunks']:>6}", f"{x['ttft_p50_ms']:>8.2f}"]
        cells += [f"{x['ttft_p90_ms']:>7.2f}", f"{x['tokens_per_s_p50']:>9.1f}"]
        cells.append(f"{x['tokens_per_s_p10']:>6.1f}")
        if "added_ttft_ms" in x:
            cells += [f"{x['added_ttft_ms']:>+8.2f}", f"{x['throughput_loss_pct']:>7.1f}"]
            cells += [f"{yes(x['ttft_goal_met']):>7}", f"{yes(x['throughput_goal_met']):>7}"]
        print(" ".join(cells))
    goals = f"+TTFT p50 <= {GOAL_ADDED_TTFT_MS:g} ms, throughput loss <= {GOAL_LOSS_PCT:g} %"
    print(f"goals per agent path ({goals}, vs direct): all met: {yes(r['all_goals_met'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 tokens, 5 requests per path")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    parser.add_argument("--requests", type=int, metavar="K", help="requests per path")
    args = parser.parse_args()
    tokens, k = (50, 5) if args.quick else (200, 20)
    k = args.requests or k
    reply = " ".join(f"word{i}" for i in range(tokens))
    exit_on_signals()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-bench-")))
        try:
            print("starting two Ollama doubles and two agents, joining them ...", flush=True)
            paths, pids = setup(stack, workdir, reply)
            print(f"pids: {pids}; measuring ...", flush=True)
            run(paths, reply, k)
        except (BenchError, httpx.HTTPError, OSError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    direct = paths[0].summary()
    result: dict[str, Any] = {"paths": {paths[0].name: direct}}
    for p in paths[1:]:
        x = p.summary()
        x["added_ttft_ms"] = round(x["ttft_p50_ms"] - direct["ttft_p50_ms"], 3)
        loss = 100 * (1 - x["tokens_per_s_p50"] / direct["tokens_per_s_p50"])
        x["throughput_loss_pct"] = round(loss, 2)
        x["ttft_goal_met"] = x["added_ttft_ms"] <= GOAL_ADDED_TTFT_MS
        x["throughput_goal_met"] = loss <= GOAL_LOSS_PCT
        result["paths"][p.name] = x
    ways = list(result["paths"].values())[1:]
    result["all_goals_met"] = all(x["ttft_goal_met"] and x["throughput_goal_met"] for x in ways)
    result["meta"] = {
        "model": MODEL,
        "tokens": tokens,
        "token_delay_ms": TOKEN_DELAY_S * 1000,
        "nominal_tokens_per_s": 1 / TOKEN_DELAY_S,
        "requests": k,
        "warmup": WARMUP,
        "cpu_count": os.cpu_count(),
    }
    report(result)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main, "every agent and Ollama double")
