"""examples/orders-etl.yaml against a local data service: 1,000 order lines are mapped,
the good ones loaded in one request, and each bad one listed with its index and reason."""

from typing import Any

from fixtures.examples import example
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack

LINES = 1000


def order_lines() -> tuple[list[dict[str, Any]], dict[int, str]]:
    """1,000 order lines, a few of them bad, and the reason each bad one is refused, by
    its index."""
    lines: list[dict[str, Any]] = [
        {"id": f"o-{i}", "sku": f"sku-{i % 7}", "quantity": 1 + i % 5, "unit_price_cents": 250}
        for i in range(LINES)
    ]
    reasons = {}
    for i in range(13, LINES, 97):
        lines[i]["quantity"] = 0
        reasons[i] = f"line o-{i}: quantity must be a positive number, not 0"
    for i in range(40, LINES, 211):
        lines[i]["unit_price_cents"] = "2,50"
        reasons[i] = f'line o-{i}: unit_price_cents must be a number, not "2,50"'
    del lines[999]["id"]
    reasons[999] = "line 999 has no order id"
    return lines, reasons


async def test_a_thousand_lines_are_loaded_and_the_bad_ones_listed(
    stack: Stack, http_peer: HttpPeer
) -> None:
    lines, reasons = order_lines()
    http_peer.script("/shop/orders/export", {"orders": lines})

    run = await stack.run_to_end(
        example("orders-etl"), {"api": http_peer.base_url, "day": "2026-12-01"}
    )

    assert run["status"] == "SUCCEEDED", run
    summary = run["output"]
    assert (summary["lines"], summary["loaded"], summary["refused"]) == (
        LINES,
        LINES - len(reasons),
        len(reasons),
    )
    refused = {f["index"]: f["error"] for f in summary["failures"]}
    assert refused == {
        i: f"node 'refuse' failed: `error(.nodes.diagnose.reason)` failed: {reason}"
        for i, reason in reasons.items()
    }
    assert http_peer.requests == ["GET /shop/orders/export", "POST /warehouse/order-lines"]
    nodes = {n["nodeId"]: n for n in run["nodes"]}
    results = nodes["orders"]["output"]["results"]
    assert len(results) == LINES
    assert [i for i, r in enumerate(results) if r is None] == sorted(reasons)
    assert results[1] == {
        "order": "o-1",
        "sku": "SKU-1",
        "quantity": 2,
        "unit_price_cents": 250,
        "currency": "EUR",
    }
    loaded = nodes["load"]["output"]["body"]["body"]
    assert loaded["rows"] == [r for r in results if r is not None]
