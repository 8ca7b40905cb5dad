"""The control plane with the bench nodes installed, as its own process."""

import uvicorn

from bench.blob_node import Blob
from bench.fibo_node import Fibo
from connectors_sdk import NodeRegistry
from control_plane.app import create_app
from control_plane.settings import ControlPlaneSettings

if __name__ == "__main__":
    settings = ControlPlaneSettings()
    registry = NodeRegistry.from_entry_points()
    registry.register(Fibo)
    registry.register(Blob)
    uvicorn.run(
        create_app(settings, registry), host=settings.host, port=settings.port, log_level="warning"
    )
