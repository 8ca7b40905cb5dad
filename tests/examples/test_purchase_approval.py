"""examples/purchase-approval.yaml against a local purchasing service: two approvers, one
of the finance group and one of operations, decide in parallel; both must approve before
the order is placed, nobody outside the groups may decide, and a request they do not
both decide in time expires."""

from typing import Any

from fixtures.approvals import decide, forbidden, principal, wait_for_task
from fixtures.examples import example, start
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack


def purchase(peer: HttpPeer) -> dict[str, Any]:
    """The run input for a purchase by dana; the request recorded is R-5."""
    peer.script("/requests", {"id": "R-5"})
    return {"api": peer.base_url, "requester": "dana", "item": "a spare pump", "amount": 1800}


def assert_requester_told(run: dict[str, Any], peer: HttpPeer, outcome: str, *steps: str) -> None:
    """The run succeeded, made the requests `steps` between recording the request and
    telling the requester, and told them `outcome` (the peer echoes what it was sent)."""
    assert run["status"] == "SUCCEEDED", run
    assert peer.requests == ["POST /requests", *steps, "POST /notifications"]
    node = next(n for n in run["nodes"] if n["nodeId"] == "tell_requester")
    assert node["output"]["body"]["body"] == {"to": "dana", "request": "R-5", "outcome": outcome}


async def test_a_request_the_two_do_not_both_decide_in_time_expires(
    stack: Stack, http_peer: HttpPeer
) -> None:
    definition = example("purchase-approval")
    approval = next(n for n in definition["nodes"] if n["id"] == "approve")
    approval["config"]["due"] = "3s"  # 48h in the example
    run_id = await start(stack, definition, purchase(http_peer))
    task = await wait_for_task(stack, run_id, "approve")
    finn = await principal(stack, "finn", groups=["finance"])

    # One of the two in time: not enough.
    await decide(stack, task["id"], True, finn)
    run = await stack.wait_for_run(run_id)

    assert_requester_told(run, http_peer, "expired", "POST /requests/R-5/expire")
    assert run["output"] == {"request": "R-5", "approved": False, "decided_by": [finn.id]}


async def test_the_order_is_placed_once_both_approve(stack: Stack, http_peer: HttpPeer) -> None:
    run_id = await start(stack, example("purchase-approval"), purchase(http_peer))
    task = await wait_for_task(stack, run_id, "approve")
    finn = await principal(stack, "finn", groups=["finance"])
    otto = await principal(stack, "otto", groups=["operations"])
    # The requester, an operator in neither group, may not approve her own purchase.
    dana = await principal(stack, "dana", groups=["engineering"])

    refusal = await forbidden(stack, task["id"], True, dana)
    await decide(stack, task["id"], True, finn, comment="within budget")
    assert (await stack.run(run_id))["status"] == "WAITING"  # one of two approvals
    await decide(stack, task["id"], True, otto)
    run = await stack.wait_for_run(run_id)

    assert refusal.endswith(
        f"is assigned to group:finance, group:operations; Dana ({dana.id}) is none of them"
    )
    assert_requester_told(run, http_peer, "ordered", "POST /requests/R-5/order")
    assert run["output"] == {"request": "R-5", "approved": True, "decided_by": [finn.id, otto.id]}


async def test_one_refusal_refuses_the_request(stack: Stack, http_peer: HttpPeer) -> None:
    run_id = await start(stack, example("purchase-approval"), purchase(http_peer))
    task = await wait_for_task(stack, run_id, "approve")
    otto = await principal(stack, "otto", groups=["operations"])

    await decide(stack, task["id"], False, otto, comment="not this quarter")
    run = await stack.wait_for_run(run_id)

    assert_requester_told(run, http_peer, "refused")
    assert run["output"] == {"request": "R-5", "approved": False, "decided_by": [otto.id]}
