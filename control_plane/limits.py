"""The limits on what one client request may ask of the control plane, and their checks.

Each limit is a `LimitSettings` field, tunable as `FLOWFORGE_CP_LIMITS__<FIELD>`; every
refusal names the limit and its setting. Limits fixed by the definition format (node
count, node id length, durations) live in `connectors_sdk`, so the CLI checks them too.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors_sdk import canonical_json
from control_plane.errors import InvalidInputError

# NATS refuses messages over its max_payload, 1 MiB unless the server is configured
# otherwise; a signed descriptor carries the definition and the run input base64-encoded.
NATS_MAX_PAYLOAD = 1024 * 1024
_DESCRIPTOR_OVERHEAD = 4 * 1024


class LimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_request_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest HTTP request body on /graphql, in bytes."
    )
    max_request_depth: int = Field(
        100, gt=0, description="Deepest nesting of arrays and objects in a request body."
    )
    max_definition_bytes: int = Field(
        384 * 1024,
        gt=0,
        description="Largest workflow definition, as canonical JSON with defaults filled in.",
    )
    max_definition_depth: int = Field(
        64, gt=0, description="Deepest nesting of arrays and objects in a definition."
    )
    max_run_input_bytes: int = Field(
        256 * 1024, gt=0, description="Largest startRun input, as canonical JSON."
    )
    max_run_input_depth: int = Field(
        64, gt=0, description="Deepest nesting of arrays and objects in a startRun input."
    )
    max_response_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest GraphQL response body, in bytes."
    )

    @model_validator(mode="after")
    def _descriptor_fits_on_the_bus(self) -> "LimitSettings":
        largest = (self.max_definition_bytes + self.max_run_input_bytes) * 4 // 3
        if largest + _DESCRIPTOR_OVERHEAD > NATS_MAX_PAYLOAD:
            raise ValueError(
                f"max_definition_bytes + max_run_input_bytes = "
                f"{self.max_definition_bytes + self.max_run_input_bytes}: a signed descriptor "
                f"would exceed NATS's {NATS_MAX_PAYLOAD}-byte max_payload; keep the sum under "
                f"{(NATS_MAX_PAYLOAD - _DESCRIPTOR_OVERHEAD) * 3 // 4}"
            )
        return self


def setting(name: str) -> str:
    """How an operator sets a limit: its field and environment variable."""
    return f"limits.{name}, FLOWFORGE_CP_LIMITS__{name.upper()}"


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar is 0, `[]` is 1)."""
    # Iterative: the values measured are the ones too deep for recursion.
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_json_value(
    value: Any, field: str, max_bytes: int, max_depth: int, limit_prefix: str
) -> None:
    """Refuse a JSON value nested deeper than `max_depth` or larger than `max_bytes`.

    Args:
        value: Parsed JSON.
        field: The argument, for the error's `field`.
        max_bytes: Largest canonical JSON size.
        max_depth: Deepest nesting.
        limit_prefix: The settings are `max_<prefix>_bytes` and `max_<prefix>_depth`.

    Raises:
        InvalidInputError: naming the limit that `value` exceeds.
    """
    depth = json_depth(value)
    if depth > max_depth:
        raise InvalidInputError(
            f"{field}: nested {depth} levels deep; at most {max_depth} are allowed "
            f"({setting(f'max_{limit_prefix}_depth')})",
            field=field,
        )
    try:
        size = len(canonical_json(value))
    except ValueError as exc:
        raise InvalidInputError(f"{field}: {exc}; use finite numbers", field=field) from exc
    if size > max_bytes:
        raise InvalidInputError(
            f"{field}: {size} bytes as JSON; at most {max_bytes} are allowed "
            f"({setting(f'max_{limit_prefix}_bytes')})",
            field=field,
        )
