"""examples/device-onboarding.yaml against a local device service: a device is
provisioned (its firmware upgraded first when old), a device that cannot be onboarded is
refused, and a provisioning step that fails undoes the steps before it, newest first."""

from typing import Any

import pytest

from fixtures.examples import example
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack

PROVISIONING = ["POST /devices", "PUT /devices/sn-1/config", "POST /monitoring"]


def device(peer: HttpPeer, **fields: Any) -> dict[str, Any]:
    """The run input for device sn-1; the peer echoes every call."""
    registered = {"serial": "sn-1", "model": "th-200", "firmware": "2.4.1", "site": "plant-7"}
    return {"api": peer.base_url, "device": {**registered, **fields}, "admin": "ops@example.com"}


def nodes(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["nodeId"]: n for n in run["nodes"]}


async def test_a_device_with_old_firmware_is_upgraded_then_provisioned(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run = await stack.run_to_end(example("device-onboarding"), device(http_peer, firmware="1.9.0"))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"serial": "sn-1", "onboarded": True, "upgraded": True}
    assert http_peer.requests == [
        "POST /devices/sn-1/firmware",
        *PROVISIONING,
        "POST /notifications",
    ]
    welcome = nodes(run)["welcome"]["output"]["body"]["body"]
    assert welcome == {"to": "site:plant-7", "text": "device sn-1 (th-200) is onboarded"}
    assert nodes(run)["reject"]["status"] == "SKIPPED"


async def test_a_failed_step_undoes_the_steps_before_it_newest_first(
    stack: Stack, http_peer: HttpPeer
) -> None:
    http_peer.script("/monitoring", {"error": "monitoring quota reached"}, status=409)

    run = await stack.run_to_end(example("device-onboarding"), device(http_peer))

    assert run["status"] == "COMPENSATED", run
    assert "node 'monitor' failed" in run["error"]
    assert http_peer.requests == [
        *PROVISIONING,
        "DELETE /devices/sn-1/config",
        "DELETE /devices/sn-1",
    ]
    statuses = {node_id: node["status"] for node_id, node in nodes(run).items()}
    assert {k: statuses[k] for k in ("register", "configure", "monitor", "welcome")} == {
        "register": "COMPENSATED",
        "configure": "COMPENSATED",
        "monitor": "FAILED",
        "welcome": "SKIPPED",
    }
    assert statuses["unregister"] == statuses["reset_config"] == "SUCCEEDED"
    assert "unmonitor" not in statuses  # monitor never succeeded: nothing to undo


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"serial": ""}, "device registration is incomplete"),
        (
            {"model": "th-100"},
            "device sn-1: model th-100 with firmware 2.4.1 is not supported",
        ),
    ],
    ids=["incomplete", "unsupported-model"],
)
async def test_a_device_that_cannot_be_onboarded_is_refused_to_the_admin(
    stack: Stack, http_peer: HttpPeer, fields: dict[str, Any], text: str
) -> None:
    run = await stack.run_to_end(example("device-onboarding"), device(http_peer, **fields))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"]["onboarded"] is False
    assert http_peer.requests == ["POST /notifications"]
    assert nodes(run)["reject"]["output"]["body"]["body"] == {"to": "ops@example.com", "text": text}
    assert nodes(run)["register"]["status"] == "SKIPPED"
