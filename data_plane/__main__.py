"""`python -m data_plane`: one agent and one Temporal worker for a pool."""

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from connectors_sdk import NodeRegistry
from data_plane.errors import DataPlaneError
from data_plane.settings import DataPlaneSettings
from data_plane.worker import serve


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(DataPlaneSettings(), NodeRegistry.from_entry_points(), stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_main())
    except (DataPlaneError, ValidationError) as exc:
        logging.getLogger("data_plane").error("cannot start: %s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
