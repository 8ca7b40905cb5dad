"""Errors raised by the data plane.

DataPlaneError
 ├── SignedMessageRejectedError  a signed message that must not be acted on
 │    ├── DescriptorRejectedError  a run descriptor failed verification (never executed)
 │    └── ControlRejectedError     a control message refused (never applied)
 ├── SettingsError             the agent/worker was configured wrongly
 ├── BusUnavailableError       not connected to NATS at the moment
 ├── MessageTooLargeError      a message over the server's maximum payload
 ├── OutputTooLargeError       a node output over the inline limit (fails the node)
 ├── ExpressionLimitError      an expression over its time, memory or output limit
 ├── CircuitOpenError          a node's circuit breaker is open: the call was not made
 ├── PayloadKeyError          a Temporal payload cannot be decrypted with the keys held
 ├── SecretError              a secret could not be read or written
 │    ├── SecretNotFoundError       no such secret in the project (never retried)
 │    ├── SecretAccessDeniedError   Vault refused this identity (never retried)
 │    └── SecretsUnavailableError   Vault cannot be reached now (retry)
 └── ArtefactError             a large value could not be stored or read
      ├── ArtefactNotFoundError          never stored, expired or removed
      ├── ArtefactCorruptError           the stored bytes do not match the reference
      ├── ArtefactTooLargeError          over the artefact limit (never retried)
      ├── ArtefactStoreFullError         the store is out of room
      └── ArtefactStoreUnavailableError  the store cannot be reached now (retry)
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data_plane.protocol.models import ControlMessage, RunDescriptor


class DataPlaneError(Exception):
    code = "data_plane_error"


class SignedMessageRejectedError(DataPlaneError):
    """A signed message of the control plane that must not be acted on; `code` says why
    (the codes of `data_plane.protocol.signing`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DescriptorRejectedError(SignedMessageRejectedError):
    """A descriptor that must not run; `code` says why.

    `descriptor` is set when the signature held (expired, hash mismatch, wrong pool): the
    run it names is genuine and can be reported as failed.
    """

    def __init__(self, code: str, message: str, descriptor: "RunDescriptor | None" = None) -> None:
        super().__init__(code, message)
        self.descriptor = descriptor


class ControlRejectedError(SignedMessageRejectedError):
    """A control message that is not applied; `code` says why.

    `control` is set when the signature held (expired, wrong pool, replayed, or refused by
    the run): the request it names is genuine.
    """

    def __init__(self, code: str, message: str, control: "ControlMessage | None" = None) -> None:
        super().__init__(code, message)
        self.control = control


class SettingsError(DataPlaneError):
    code = "bad_settings"


class BusUnavailableError(DataPlaneError):
    """No connection to NATS right now; the caller retries later."""

    code = "bus_unavailable"


class MessageTooLargeError(DataPlaneError):
    """A message that NATS would refuse (and close the connection for): never sent."""

    code = "message_too_large"

    def __init__(self, subject: str, size: int, limit: int) -> None:
        super().__init__(
            f"a message of {size} bytes for {subject} exceeds the bus's maximum payload of "
            f"{limit} bytes (headers included)"
        )
        self.size = size
        self.limit = limit


class OutputTooLargeError(DataPlaneError):
    """A node produced more than may travel inline; retrying would produce it again."""

    code = "OutputTooLarge"

    def __init__(self, node_id: str, size: int, limit: int) -> None:
        super().__init__(
            f"node {node_id!r} produced an output of {size} bytes, over the inline limit of "
            f"{limit} bytes (FLOWFORGE_DP_MAX_OUTPUT_BYTES); return less, e.g. select the "
            "fields you need"
        )


class ExpressionLimitError(DataPlaneError):
    """An expression went over a limit of its evaluator; `limit` names which one
    ("time", "memory", "output", "context", "crash"). It would again: never retried."""

    code = "ExpressionLimitExceeded"

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class CircuitOpenError(DataPlaneError):
    """The breaker of a node type and target is open, or half-open with its probe in
    flight (`retry_after` None): the node was not called (see `data_plane/breakers.py`).
    Retryable: the breaker lets calls through again once it half-opens."""

    code = "CircuitOpen"

    def __init__(
        self,
        node_type: str,
        target: str | None,
        *,
        failures: int,
        last_error: str,
        half_open_at: datetime,
        retry_after: timedelta | None,
    ) -> None:
        where = f"{node_type} at {target}" if target else f"{node_type} (every call of the type)"
        if retry_after is not None:
            state = (
                f"calls fail at once, without reaching it, until it half-opens at "
                f"{half_open_at:%Y-%m-%d %H:%M:%S} UTC (in {retry_after.total_seconds():.1f} s) "
                "and lets one probe through"
            )
        else:
            state = "it is half-open and its one probe is in flight: other calls fail at once"
        super().__init__(
            f"circuit open for {where} after {failures} failures in a row "
            f"(last: {last_error}); {state}. The breaker's policy is the node's `breaker` "
            "(FLOWFORGE_DP_BREAKER_* for the defaults)"
        )
        self.node_type = node_type
        self.target = target
        self.retry_after = retry_after


class ArtefactError(DataPlaneError):
    """An artefact (a value kept by reference) could not be stored or read."""

    code = "ArtefactError"


class ArtefactNotFoundError(ArtefactError):
    code = "ArtefactNotFound"

    def __init__(
        self,
        ref: str,
        bucket: str,
        reason: str = "it is not there",
        settings: str = "FLOWFORGE_CP_ARTEFACT_BUCKET, FLOWFORGE_DP_ARTEFACT_BUCKET",
    ) -> None:
        super().__init__(
            f"artefact {ref} cannot be read from the bucket {bucket!r}: {reason}. It was "
            "never stored there, has outlived the bucket's age limit, or was removed; check "
            f"that the control plane and every pool name the same bucket ({settings}), then "
            "run the node that produced it again"
        )


class ArtefactCorruptError(ArtefactError):
    """The stored bytes are not those the reference names; reading again gives the same."""

    code = "ArtefactCorrupt"

    def __init__(self, ref: str, bucket: str, reason: str, fix: str) -> None:
        super().__init__(
            f"artefact {ref} in the bucket {bucket!r} is corrupt: {reason}; {fix}, then run "
            "the node that produced it again"
        )


class ArtefactTooLargeError(ArtefactError):
    """Over the artefact limit; it would be again, so it is never retried."""

    code = "ArtefactTooLarge"

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"{what} of {size} bytes is over the artefact limit of {limit} bytes "
            "(FLOWFORGE_DP_ARTEFACT_MAX_BYTES, FLOWFORGE_CP_ARTEFACT_MAX_BYTES); produce "
            "less, e.g. split the work with a map, or raise the limit"
        )
        self.size = size
        self.limit = limit


class ArtefactStoreFullError(ArtefactError):
    code = "ArtefactStoreFull"

    def __init__(self, ref: str, bucket: str) -> None:
        super().__init__(
            f"the bucket {bucket!r} is full: artefact {ref} was not stored. Raise the "
            f"maximum bytes of its stream OBJ_{bucket} (FLOWFORGE_CP_ARTEFACT_BUCKET_MAX_BYTES "
            "sets it for a new bucket) or shorten its age limit"
        )


class ArtefactStoreUnavailableError(ArtefactError):
    """The store cannot be reached right now; the caller retries later."""

    code = "ArtefactStoreUnavailable"


class PayloadKeyError(DataPlaneError):
    """A Temporal payload names a key that is not held, or does not decrypt with it."""

    code = "PayloadKeyUnknown"


class SecretError(DataPlaneError):
    """A secret could not be read or written. Messages name the secret, never its value."""

    code = "secret_error"


class SecretNotFoundError(SecretError):
    code = "SecretNotFound"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"secret {path} does not exist in Vault: set it (flowforge secrets set) or "
            "remove it from the node's secrets"
        )
        self.path = path


class SecretAccessDeniedError(SecretError):
    code = "SecretAccessDenied"

    def __init__(self, path: str, identity: str) -> None:
        super().__init__(
            f"Vault refused {identity} access to secret {path}: its policy does not cover "
            "this workspace (see docs/operations.md, Vault)"
        )
        self.path = path


class SecretsUnavailableError(SecretError):
    code = "SecretsUnavailable"
