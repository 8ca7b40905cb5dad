"""A small GraphQL client for the CLI, and the one place CLI errors are reported."""

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8080/graphql"
DEFAULT_DATA_DIR = Path(".flowforge")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


class GraphQLClient:
    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"}

    def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation and return its data; any GraphQL error ends the command."""
        try:
            response = httpx.post(
                self._url,
                json={"query": query, "variables": variables},
                headers=self._headers,
                timeout=30.0,
            )
        except httpx.TransportError as exc:
            fail(f"cannot reach the control plane at {self._url} ({exc}); is `flowforge dev` up?")
        try:
            body = response.json()
        except ValueError:
            fail(f"{self._url} answered HTTP {response.status_code} without JSON")
        errors = body.get("errors") or []
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code", "ERROR")
            fail(f"{first.get('message')} [{code}]")
        return dict(body["data"])


def connect(url: str | None, token: str | None, data_dir: Path | None) -> GraphQLClient:
    """A client from flags, then FLOWFORGE_* variables, then the dev stack's files."""
    url = url or os.environ.get("FLOWFORGE_URL") or DEFAULT_URL
    token = token or os.environ.get("FLOWFORGE_TOKEN")
    if token is None:
        data_dir = data_dir or Path(os.environ.get("FLOWFORGE_DATA_DIR", DEFAULT_DATA_DIR))
        token_file = data_dir / "admin-token"
        if not token_file.exists():
            fail(
                f"no API token: pass --token, set FLOWFORGE_TOKEN, or run `flowforge dev` "
                f"(it writes {token_file})"
            )
        token = token_file.read_text().strip()
    return GraphQLClient(url, token)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
