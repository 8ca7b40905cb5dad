"""`flowforge codec-server`: read encrypted Temporal payloads in Temporal's UI and CLI."""

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from data_plane.codec import load_payload_keys
from data_plane.errors import SettingsError
from flowforge.cli.client import DEFAULT_DATA_DIR, fail
from flowforge.codec_server import create_codec_app


def codec_server(
    payload_keys: Annotated[
        Path, typer.Option(help="The payload key file (FLOWFORGE_DP_PAYLOAD_KEYS_PATH).")
    ] = DEFAULT_DATA_DIR / "payload-keys.json",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8234,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(help="A web UI that may call it (repeatable)."),
    ] = None,
) -> None:
    """Serve /encode and /decode with the payload keys, on 127.0.0.1.

    Example: flowforge codec-server --allow-origin http://127.0.0.1:8233, then set
    http://127.0.0.1:8234 as the codec endpoint in the Temporal UI, or run
    temporal workflow show -w RUN_ID --codec-endpoint http://127.0.0.1:8234
    """
    try:
        keys = load_payload_keys(payload_keys)
    except SettingsError as exc:
        fail(str(exc))
    origins = allow_origin or ["http://127.0.0.1:8233", "http://localhost:8233"]
    typer.echo(f"codec server on http://127.0.0.1:{port} (keys: {', '.join(sorted(keys.keys))})")
    uvicorn.run(create_codec_app(keys, origins), host="127.0.0.1", port=port, log_level="warning")
