"""Options shared by the commands that talk to the GraphQL API."""

from pathlib import Path
from typing import Annotated

import typer

Url = Annotated[
    str | None,
    typer.Option("--url", envvar="FLOWFORGE_URL", help="GraphQL endpoint of the control plane."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="FLOWFORGE_TOKEN",
        help="API token (default: `flowforge login`'s, else the dev stack's).",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="FLOWFORGE_DATA_DIR", help="Dev stack data directory."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
Project = Annotated[
    str | None,
    typer.Option("--project", help="Project id (default: the 'default' project)."),
]
