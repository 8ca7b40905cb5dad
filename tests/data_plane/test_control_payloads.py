"""What a control message must carry for its action: a signal's event, a decision, each
bounded; checked when the message is built, without any server."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from data_plane.protocol import (
    MAX_CONTROL_PAYLOAD_BYTES,
    MAX_CORRELATION_LENGTH,
    MAX_SIGNAL_NAME_LENGTH,
    ControlDecision,
    ControlMessage,
    ControlSignal,
)

DECISION = ControlDecision(task_id="r:ask", decided_by="ada", decision={"approved": True})


def control(action: str, **fields: Any) -> ControlMessage:
    now = datetime.now(UTC)
    return ControlMessage(
        control_id=str(uuid.uuid4()),
        run_id=str(uuid.uuid4()),
        pool="default",
        action=action,  # type: ignore[arg-type]
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        **fields,
    )


def refusal(error: ValidationError) -> tuple[str, str]:
    """Where the first problem is and what it says."""
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"]), first["msg"]


def test_a_signal_carries_its_event_and_round_trips() -> None:
    event = ControlSignal(name="order.paid", correlation="A-17", payload={"amount": 5})

    message = control("signal", signal=event)

    assert ControlMessage.model_validate_json(message.model_dump_json()) == message


def test_a_signal_without_its_event_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="signal: a signal carries one"):
        control("signal")


def test_a_decide_without_its_decision_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="decision: a decide carries one"):
        control("decide")


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("cancel", {"signal": ControlSignal(name="x")}),
        ("signal", {"signal": ControlSignal(name="x"), "decision": DECISION}),
        ("pause", {"decision": DECISION}),
    ],
)
def test_an_action_carrying_another_action_s_payload_is_refused(
    action: str, fields: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="no other action does"):
        control(action, **fields)


def test_a_decide_carries_its_decision() -> None:
    assert control("decide", decision=DECISION).decision == DECISION


def test_a_payload_over_the_cap_is_refused_naming_the_field_and_the_fix() -> None:
    # Canonical JSON of the string adds its two quotes.
    ControlSignal(name="big", payload="x" * (MAX_CONTROL_PAYLOAD_BYTES - 2))
    with pytest.raises(ValidationError) as error:
        ControlSignal(name="big", payload="x" * (MAX_CONTROL_PAYLOAD_BYTES - 1))

    where, what = refusal(error.value)
    assert where == "payload"
    assert f"more than the {MAX_CONTROL_PAYLOAD_BYTES}" in what
    assert "send a reference" in what


def test_a_decision_over_the_cap_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        ControlDecision(
            task_id="r:ask", decided_by="ada", decision={"note": "x" * MAX_CONTROL_PAYLOAD_BYTES}
        )

    assert refusal(error.value)[0] == "decision"


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * (MAX_SIGNAL_NAME_LENGTH + 1)}, "name"),
        ({"name": "ok", "correlation": ""}, "correlation"),
        ({"name": "ok", "correlation": "c" * (MAX_CORRELATION_LENGTH + 1)}, "correlation"),
        ({"name": "ok", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as error:
        ControlSignal(**fields)

    assert refusal(error.value)[0] == where
