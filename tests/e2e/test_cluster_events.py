"""The node.* events a member publishes as the cluster changes around it."""

from __future__ import annotations

import signal

from tests.harness import AgentProcess, agent_process, call, replay_events, wait_until


def replayed_topics(agent: AgentProcess, prefix: str = "node") -> list[tuple[str, dict]]:
    return replay_events(agent, prefix)


def topics_for(agent: AgentProcess, node_id: str) -> list[str]:
    return [t for t, data in replayed_topics(agent) if data.get("node_id") == node_id]


def test_join_offline_online_and_eviction_events(trio: list[AgentProcess]) -> None:
    watcher, victim = trio[0], trio[2]
    victim_id = victim.info["node_id"]
    assert "node.joined" in topics_for(watcher, victim_id)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    wait_until(lambda: "node.offline" in topics_for(watcher, victim_id), 15, "node.offline")
    seen = topics_for(watcher, victim_id)
    assert seen.index("node.suspect") < seen.index("node.offline")
    with agent_process(victim.home) as revived:
        wait_until(
            lambda: topics_for(watcher, victim_id)[-1] == "node.online",
            15,
            "node.online after the restart",
        )
        assert call(watcher, "DELETE", f"/api/nodes/{victim_id}").status_code == 200
        assert topics_for(watcher, victim_id)[-1] == "node.evicted"
        wait_until(
            lambda: any(t == "node.evicted" and d.get("self") for t, d in replayed_topics(revived)),
            10,
            "the evicted node's own node.evicted event",
        )


def test_leave_event_reaches_the_others(trio: list[AgentProcess]) -> None:
    leaver_id = trio[1].info["node_id"]
    assert call(trio[1], "POST", "/api/cluster/leave").status_code == 200
    wait_until(lambda: "node.left" in topics_for(trio[0], leaver_id), 10, "node.left")
