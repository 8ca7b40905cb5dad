"""`python -m data_plane`: one agent and one Temporal worker for a pool."""

import asyncio
import logging
import signal

from connectors_sdk import NodeRegistry
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
    asyncio.run(_main())


if __name__ == "__main__":
    main()
