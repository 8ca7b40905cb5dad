"""A small GraphQL client for the CLI, and the one place CLI errors are reported."""

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8080/graphql"
DEFAULT_DATA_DIR = Path(".flowforge")

# The refusals `accepted` reads, for the mutations whose result union has them.
NOT_FOUND = "... on NotFound { message }"
# The most items a list gives in one answer (the server's page limit).
PAGE = 200
INVALID = "... on ValidationFailed { errors { field message } }"


def mutation(variables: str, call: str, *members: str) -> str:
    """A mutation selecting `call` as `result` with its `__typename` and `members` (inline
    fragments, one per member of its result union that matters)."""
    return f"mutation({variables}) {{ result: {call} {{ __typename {' '.join(members)} }} }}"


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def accepted(result: dict[str, Any]) -> dict[str, Any]:
    """A mutation's result, or the end of the command when it is NotFound or
    ValidationFailed (selected with NOT_FOUND and INVALID)."""
    if result["__typename"] == "NotFound":
        fail(result["message"])
    if result["__typename"] == "ValidationFailed":
        fail("; ".join(_issue(issue) for issue in result["errors"]))
    return result


def _issue(issue: dict[str, Any]) -> str:
    field, message = issue["field"], issue["message"]
    # The server's messages mostly lead with their field already.
    return message if message.startswith(f"{field}:") else f"{field}: {message}"


class GraphQLClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"}

    def every(self, query: str, field: str, key: str = "id", **variables: Any) -> list[Any]:
        """Every item of the list `field`, read page by page: `query` takes `$first` and
        `$after` and passes them to that list, whose items have `key`."""
        items: list[Any] = []
        while True:
            after = items[-1][key] if items else None
            page = self.execute(query, first=PAGE, after=after, **variables)[field]
            items.extend(page)
            if len(page) < PAGE:
                return items

    def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        """Run an operation and return its data; any GraphQL error ends the command."""
        try:
            response = httpx.post(
                self.url,
                json={"query": query, "variables": variables},
                headers=self._headers,
                timeout=30.0,
            )
        except httpx.TransportError as exc:
            fail(f"cannot reach the control plane at {self.url} ({exc}); is `flowforge dev` up?")
        try:
            body = response.json()
        except ValueError:
            fail(f"{self.url} answered HTTP {response.status_code} without JSON")
        errors = body.get("errors") or []
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code", "ERROR")
            fail(f"{first.get('message')} [{code}]")
        return dict(body["data"])


def credentials_file() -> Path:
    """Where `flowforge login` keeps the url and token."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "flowforge" / "credentials.json"


def saved_credentials() -> dict[str, str] | None:
    """The url and token `flowforge login` saved, if it did."""
    path = credentials_file()
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path} ({exc}); run `flowforge login` again or delete it")
    if not isinstance(saved, dict) or not {"url", "token"} <= saved.keys():
        fail(f"{path} holds no url and token; run `flowforge login` again or delete it")
    return {"url": str(saved["url"]), "token": str(saved["token"])}


def connect(url: str | None, token: str | None, data_dir: Path | None) -> GraphQLClient:
    """A client from flags, then FLOWFORGE_* variables, then `flowforge login`'s file, then
    the dev stack's files."""
    url = url or os.environ.get("FLOWFORGE_URL")
    token = token or os.environ.get("FLOWFORGE_TOKEN")
    saved = saved_credentials() if url is None or token is None else None
    url = url or (saved["url"] if saved else DEFAULT_URL)
    # A saved token goes only to the control plane it was saved for.
    if token is None and saved is not None and saved["url"] == url:
        token = saved["token"]
    if token is None:
        data_dir = data_dir or Path(os.environ.get("FLOWFORGE_DATA_DIR", DEFAULT_DATA_DIR))
        token_file = data_dir / "admin-token"
        if not token_file.exists():
            fail(
                f"no API token: pass --token, set FLOWFORGE_TOKEN, run `flowforge login`, "
                f"or run `flowforge dev` (it writes {token_file})"
            )
        token = token_file.read_text().strip()
    return GraphQLClient(url, token)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
