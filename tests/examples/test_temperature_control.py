"""examples/temperature-control.yaml against a local building service: a room already
cool is left alone, a hot one is cooled until it is cool, one that stays hot is escalated."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from fixtures.examples import example
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack

READ = "GET /rooms/r1/temperature"
COOL = "POST /rooms/r1/cool"


def room_reading(peer: HttpPeer, *celsius: float, **options: Any) -> dict[str, Any]:
    """The run input for room r1, whose sensor reads `celsius` in turn, the last one
    from then on; the cooling and the alerts are echoed by the peer."""
    peer.script("/rooms/r1/temperature", *({"celsius": c} for c in celsius))
    return {"api": peer.base_url, "room": "r1", "threshold": 24, "settle": "200ms", **options}


@pytest.mark.parametrize(
    ("readings", "requests", "logged"),
    [
        ([21], [READ], "log_normal"),
        ([29, 26, 23], [READ, COOL, READ, COOL, READ], "log_success"),
    ],
    ids=["within-range-left-alone", "hot-cooled-until-cool"],
)
async def test_a_room_is_cooled_and_read_again_until_it_is_cool(
    stack: Stack, http_peer: HttpPeer, readings: list[float], requests: list[str], logged: str
) -> None:
    run = await stack.run_to_end(example("temperature-control"), room_reading(http_peer, *readings))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {
        "room": "r1",
        "celsius": readings[-1],
        "checks": len(readings),
        "escalated": False,
    }
    assert http_peer.requests == requests
    took = datetime.fromisoformat(run["finishedAt"]) - datetime.fromisoformat(run["startedAt"])
    assert took >= timedelta(milliseconds=200) * (len(readings) - 1)  # a settle per cooling
    status = {n["nodeId"]: n["status"] for n in run["nodes"]}
    outcomes = {n: status[n] for n in ("log_normal", "log_success", "escalate")}
    assert outcomes == {n: "SUCCEEDED" if n == logged else "SKIPPED" for n in outcomes}


async def test_a_room_that_stays_hot_is_escalated_after_the_last_check(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run = await stack.run_to_end(
        example("temperature-control"), room_reading(http_peer, 30, 29, 28, max_checks=3)
    )

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"room": "r1", "celsius": 28, "checks": 3, "escalated": True}
    # No cooling after the last reading: the alert follows it at once.
    assert http_peer.requests == [READ, COOL, READ, COOL, READ, "POST /alerts"]
    nodes = {n["nodeId"]: n for n in run["nodes"]}
    assert nodes["control"]["output"]["exhausted"] is True
    alert = nodes["escalate"]["output"]["body"]["body"]
    assert alert == {
        "room": "r1",
        "message": "room r1 is still at 28 °C after 3 checks with cooling on",
    }
