"""The `flowforge` command."""

import typer

from flowforge.cli import bus, nodes, runs, tasks, workflow
from flowforge.cli.dev import dev

app = typer.Typer(
    help="FlowForge: publish workflows, start and inspect runs, decide tasks, run the dev stack.",
    no_args_is_help=True,
)
app.command()(dev)
app.command("run")(runs.run_command)
app.add_typer(workflow.app, name="workflow")
app.add_typer(runs.app, name="runs")
app.add_typer(tasks.app, name="tasks")
app.add_typer(nodes.app, name="nodes")
app.add_typer(bus.app, name="bus")


def main() -> None:
    app()
