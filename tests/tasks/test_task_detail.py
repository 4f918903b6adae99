"""A task's detail is one consistent moment: a final state always comes with all its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import LiveAgent, async_wait_until
from tests.tasks.conftest import submit, wait_task


async def test_a_task_ending_while_its_output_is_read_is_shown_as_before(
    live: LiveAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = live.server.config.app.state.subsystems["tasks"]
    flag = tmp_path / "go"
    async with live.client() as client:
        task = await submit(
            client, command=f"while [ ! -e {flag} ]; do sleep 0.01; done; echo last"
        )
        task_id = task["task_id"]
        await wait_task(client, task_id, {"running"})
        read = tasks.store.output

        async def read_then_end(wanted: str, after_seq: int = -1) -> list[tuple[int, str, bytes]]:
            chunks = await read(wanted, after_seq)
            # The task ends (its last output stored, its final state saved) right after
            # its output was read for the answer, before the answer is made.
            flag.touch()
            await async_wait_until(
                lambda: task_id not in tasks.scheduler.inflight, 10, "the task to end"
            )
            return chunks

        monkeypatch.setattr(tasks.store, "output", read_then_end)
        raced = (await client.get(f"/api/tasks/{task_id}")).json()
        monkeypatch.undo()
        done = (await client.get(f"/api/tasks/{task_id}")).json()
    assert (raced["state"], raced["stdout"]) == ("running", "")
    assert (done["state"], done["stdout"]) == ("succeeded", "last\n")
