"""Evaluation of compiled expressions in a separate, bounded process.

CEL has no loops, but comprehensions over comprehensions and repeated concatenation can
still ask for minutes of CPU or gigabytes of memory. The evaluator therefore runs in one
worker process (agent/flows/sandbox_worker.py): memory capped there, time capped here by
killing it; a new worker starts on the next evaluation. Calls are serialised by a lock, so
any thread may evaluate.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

EVAL_TIMEOUT_S = 2.0
# Starting Python on a loaded machine can be slow; that time is not the expression's.
START_TIMEOUT_S = 30.0
WORKER = Path(__file__).with_name("sandbox_worker.py")


class EvaluationFailed(Exception):
    """Expression `index` of a batch failed; `kind` is the evaluator's error type name."""

    def __init__(self, index: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.index, self.kind, self.message = index, kind, message


class Sandbox:
    def __init__(self, timeout_s: float = EVAL_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def evaluate(self, sources: list[str], scope: dict[str, Any], max_bytes: int) -> list[Any]:
        """Each source's value in `scope`, in order; raises EvaluationFailed at the first
        that fails, runs too long or exhausts the worker's memory."""
        request = json.dumps({"sources": sources, "scope": scope, "max_bytes": max_bytes})
        with self._lock:
            process = self._running()
            try:
                assert process.stdin is not None
                process.stdin.write(request.encode() + b"\n")
                process.stdin.flush()
                answer = json.loads(self._read_line(process, self.timeout_s))
            except TimeoutError:
                self._stop()
                raise EvaluationFailed(0, "Timeout", "") from None
            except (OSError, ValueError):
                self._stop()
                raise EvaluationFailed(0, "Crashed", "") from None
        if "values" in answer:
            return list(answer["values"])
        raise EvaluationFailed(int(answer["index"]), str(answer["kind"]), str(answer["message"]))

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        process = self._process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._read_line(process, START_TIMEOUT_S)
        except (TimeoutError, OSError):
            self._stop()
            raise EvaluationFailed(0, "Unavailable", "") from None
        return process

    def _read_line(self, process: subprocess.Popen[bytes], timeout_s: float) -> bytes:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise OSError("the evaluator stopped")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stop(self) -> None:
        self._buffer = b""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None


SANDBOX = Sandbox()
atexit.register(SANDBOX.close)
