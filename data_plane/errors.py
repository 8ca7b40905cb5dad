"""Errors raised by the data plane.

DataPlaneError
 ├── DescriptorRejectedError   a run descriptor failed verification (never executed)
 └── SettingsError             the agent/worker was configured wrongly
"""


class DataPlaneError(Exception):
    code = "data_plane_error"


class DescriptorRejectedError(DataPlaneError):
    """A descriptor that must not run; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SettingsError(DataPlaneError):
    code = "bad_settings"
