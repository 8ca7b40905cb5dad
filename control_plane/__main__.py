"""`python -m control_plane`: serve the control plane with uvicorn."""

import logging

import uvicorn

from control_plane.app import create_app
from control_plane.settings import ControlPlaneSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = ControlPlaneSettings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
