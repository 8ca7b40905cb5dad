"""`core.wait`: hold a branch of the run for a duration, until a time, or until an event.

The interpreter waits with Temporal timers and conditions, never a sleep in a process:
a wait of days costs nothing while it lasts, and survives every restart.
"""

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from connectors_sdk._definition import Duration
from connectors_sdk._expressions import CONFLICTING_FIELDS
from connectors_sdk._node import AnyObject, Node

SIGNAL_NAME = r"^[A-Za-z0-9_.:-]+$"
MAX_SIGNAL_NAME = 200
MAX_CORRELATION = 500
_KINDS = ("duration", "until", "signal")


class Wait(Node):
    """Wait for one of: `duration` (e.g. "10m", "72h"), `until` (a timestamp with a time
    zone, usually an expression: `${ .input.due }`), or `signal`, an event of that name
    sent to the run (with `correlation`, only an event carrying the same key).

    A signal wait may have a `timeout`; the node then has two ports: `done`, taken when
    the event arrived, and `timeout`, taken when none came in time. Output:
    {"waited_until"} for a duration or a time; {"signal", "payload", "received_at"} for an
    event; {"timed_out_at"} on a timeout.
    """

    type = "core.wait"
    interpreted = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        duration: Duration | None = Field(None, description="How long to wait.")
        until: AwareDatetime | None = Field(
            None, description="When to go on (ISO 8601 with a zone); past times go on at once."
        )
        signal: str | None = Field(
            None,
            max_length=MAX_SIGNAL_NAME,
            pattern=SIGNAL_NAME,
            description="The name of the event to wait for.",
        )
        correlation: str | None = Field(
            None,
            max_length=MAX_CORRELATION,
            description="Only an event with this correlation key ends the wait.",
        )
        timeout: Duration | None = Field(
            None, description="How long to wait for the event before taking `timeout`."
        )

        # Before the fields: whether the fields are given does not depend on what their
        # expressions evaluate to, so the error is reported for expressions too.
        @model_validator(mode="before")
        @classmethod
        def _one_kind(cls, data: Any) -> Any:
            if not isinstance(data, dict):
                return data
            given = [k for k in _KINDS if data.get(k) is not None]
            if len(given) != 1:
                found = " and ".join(f"`{k}`" for k in given) if given else "none"
                raise PydanticCustomError(
                    CONFLICTING_FIELDS,
                    "give exactly one of `duration`, `until` and `signal` (found {found}): "
                    "wait for a time, until a timestamp, or for an event",
                    {"found": found},
                )
            extra = [k for k in ("correlation", "timeout") if data.get(k) is not None]
            if extra and given != ["signal"]:
                raise PydanticCustomError(
                    CONFLICTING_FIELDS,
                    "{fields} only apply to a wait for a `signal`",
                    {"fields": " and ".join(f"`{k}`" for k in extra)},
                )
            return data

    Input = AnyObject
    Output = AnyObject

    @classmethod
    def ports_for(cls, config: Config) -> tuple[str, ...]:
        return ("done", "timeout") if config.timeout is not None else ()
