"""Topics the tasks subsystem publishes.

task.queued, task.scheduled, task.running, task.succeeded, task.failed, task.cancelled,
task.timed_out, task.lost — data: the task as `GET /api/tasks/{id}` shows it (no output).
scheduler.breaker — data: {node_id, from, to, breaker: snapshot} on every breaker change.
"""

TASK_PREFIX = "task"
BREAKER_CHANGED = "scheduler.breaker"
