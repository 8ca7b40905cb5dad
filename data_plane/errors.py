"""Errors raised by the data plane.

DataPlaneError
 ├── DescriptorRejectedError   a run descriptor failed verification (never executed)
 └── SettingsError             the agent/worker was configured wrongly
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data_plane.protocol import RunDescriptor


class DataPlaneError(Exception):
    code = "data_plane_error"


class DescriptorRejectedError(DataPlaneError):
    """A descriptor that must not run; `code` says why.

    `descriptor` is set when the signature held (expired, hash mismatch, wrong pool): the
    run it names is genuine and can be reported as failed.
    """

    def __init__(self, code: str, message: str, descriptor: "RunDescriptor | None" = None) -> None:
        super().__init__(message)
        self.code = code
        self.descriptor = descriptor


class SettingsError(DataPlaneError):
    code = "bad_settings"
