"""`openfabric health` and `openfabric metrics`."""

from __future__ import annotations

import click

from agent.client import Health, HealthProbe, MetricsReport
from cli import output
from cli.runtime import EXIT_ERROR, call, global_options, globals_of


def health_table(health: Health | HealthProbe) -> str:
    if not isinstance(health, Health):
        # Without a token the agent says only whether it is up.
        return output.pairs([("Status", health.status)])
    head = output.pairs(
        [
            ("Status", health.status),
            ("Node", health.node_id),
            ("Version", health.version),
            ("Uptime", output.duration(health.uptime_s)),
        ]
    )
    rows = [[c.name, c.status, c.detail, f"{c.duration_ms:.1f} ms"] for c in health.checks]
    return head + "\n\n" + output.table(["CHECK", "STATUS", "DETAIL", "TIME"], rows)


@click.command("health")
@global_options
@click.pass_context
def health(ctx: click.Context) -> None:
    """Health checks of the agent; exit code 1 when it is unhealthy."""
    g = globals_of(ctx)
    report = call(ctx, lambda client: client.health())
    g.emit(output.render(report, g.format, health_table))
    if report.status == "unhealthy":
        ctx.exit(EXIT_ERROR)


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "-"


def _number(value: float | str) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def metrics_table(body: MetricsReport, buckets: bool = False) -> str:
    rows = [
        [sample.name, _labels(sample.labels), _number(sample.value)]
        for family in body.metrics
        for sample in family.samples
        # Histogram buckets swamp the table; --verbose shows them.
        if buckets or not sample.name.endswith("_bucket")
    ]
    return output.table(["METRIC", "LABELS", "VALUE"], rows)


@click.command("metrics")
@click.option("--prometheus", is_flag=True, help="Print the Prometheus text exposition.")
@global_options
@click.pass_context
def metrics(ctx: click.Context, prometheus: bool) -> None:
    """The agent's operational metrics."""
    g = globals_of(ctx)
    if prometheus:
        g.emit(call(ctx, lambda client: client.metrics_text()).rstrip("\n"))
        return
    families = call(ctx, lambda client: client.metrics())
    body = MetricsReport(metrics=families, count=len(families))
    g.emit(output.render(body, g.format, lambda b: metrics_table(b, buckets=g.verbose)))
