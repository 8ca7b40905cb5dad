"""`flowforge dev`: the whole stack on one machine, on embedded defaults."""

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from flowforge.cli.client import DEFAULT_DATA_DIR, fail
from flowforge.devstack import DevPorts, DevStack
from flowforge.servers import ServerStartError
from flowforge.supervisor import SupervisorGaveUpError

_defaults = DevPorts()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dev(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", envvar="FLOWFORGE_DATA_DIR", help="Where all state lives.")
    ] = DEFAULT_DATA_DIR,
    port: Annotated[int, typer.Option(help="GraphQL API port.")] = _defaults.api,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = _defaults.temporal,
    temporal_ui_port: Annotated[
        int, typer.Option(help="Temporal web UI port.")
    ] = _defaults.temporal_ui,
    nats_port: Annotated[int, typer.Option(help="NATS port.")] = _defaults.nats,
    vault_port: Annotated[int, typer.Option(help="OpenBao port.")] = _defaults.vault,
) -> None:
    """Start Temporal, NATS, OpenBao, the control plane and a data plane; Ctrl-C stops all.

    Example: flowforge dev --data-dir ./.flowforge --port 8080
    """
    logging.basicConfig(level=logging.WARNING)
    ports = DevPorts(port, temporal_port, temporal_ui_port, nats_port, vault_port)
    stack = DevStack(data_dir.resolve(), ports, report=typer.echo)
    typer.echo(f"FlowForge dev stack (data in {stack.data_dir})")
    try:
        stack.start()
    except ServerStartError as exc:
        fail(str(exc))
    token_file = stack.data_dir / "admin-token"
    typer.secho("\nFlowForge is up.", fg=typer.colors.GREEN)
    typer.echo(f"  GraphQL API + GraphiQL: {stack.graphql_url}")
    typer.echo(f"  Temporal UI:            http://127.0.0.1:{ports.temporal_ui}")
    typer.echo(f"  Admin API token:        {stack.admin_token}  (also in {token_file})")
    typer.echo(f"  Logs:                   {stack.data_dir / 'logs'}")
    typer.echo(
        "  Try: flowforge workflow push examples/hello.yaml && "
        'flowforge run hello --input \'{"name": "Ada"}\' --wait'
    )
    typer.echo("Press Ctrl-C to stop. A component that exits or hangs is restarted.")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.supervise()
    except SupervisorGaveUpError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        code = 1
    except KeyboardInterrupt:
        code = 0
    typer.echo("stopping ...")
    stack.stop()
    typer.echo("stopped.")
    raise typer.Exit(code)
