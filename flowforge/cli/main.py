"""The `flowforge` command."""

import typer

from flowforge.cli import (
    bus,
    identity,
    members,
    nodes,
    policies,
    pools,
    runs,
    secrets,
    tasks,
    tokens,
    workflow,
    workspaces,
)
from flowforge.cli.codec import codec_server
from flowforge.cli.dev import dev

app = typer.Typer(
    help="FlowForge: publish workflows, start and inspect runs, decide tasks, set secrets, "
    "govern workspaces, members, tokens and policies, run the dev stack.",
    no_args_is_help=True,
)
app.command()(dev)
app.command("codec-server")(codec_server)
app.command()(identity.login)
app.command()(identity.logout)
app.command()(identity.whoami)
app.command("run")(runs.run_command)
app.add_typer(workflow.app, name="workflow")
app.add_typer(runs.app, name="runs")
app.add_typer(tasks.app, name="tasks")
app.add_typer(nodes.app, name="nodes")
app.add_typer(bus.app, name="bus")
app.add_typer(workspaces.app, name="workspaces")
app.add_typer(workspaces.projects, name="projects")
app.add_typer(members.app, name="members")
app.add_typer(tokens.app, name="tokens")
app.add_typer(policies.app, name="policies")
app.add_typer(pools.app, name="pools")
app.add_typer(secrets.app, name="secrets")


def main() -> None:
    app()
