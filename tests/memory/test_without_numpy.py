"""Memory works without the brain's extra (no numpy): facts are stored and deduplicated by
their text, search says what to install, and numpy is never imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.harness import REPO

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["numpy"] = None  # any import of numpy now fails
    import asyncio
    from pathlib import Path
    from agent.core.errors import ApiError
    from agent.core.recollection import FactClaim
    import agent.memory.subsystem
    from tests.memory.kit import memory_node

    async def main() -> None:
        async with memory_node(Path(sys.argv[1]), None) as node:
            remember = node.service.remember
            [a] = await remember([FactClaim("My editor is vim")], source="manual", session_id=None)
            [b] = await remember([FactClaim("my editor is VIM!")], source="chat", session_id=None)
            assert (b.id, b.outcome) == (a.id, "existing"), b
            try:
                await node.service.search("editor", 3)
            except ApiError as exc:
                print(exc.status, exc.code)
            await node.service.delete(a.id)
            print((await node.service.listing(True)).count)

    asyncio.run(main())
    """
)


def test_memory_runs_without_numpy(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["503", "MEMORY_UNAVAILABLE", "0"]
