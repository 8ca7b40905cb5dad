"""`core.wait`: one kind of wait per node, checked at publish time with the field and the fix."""

from typing import Any

import pytest


def wait(node_id: str = "hold", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.wait", "config": config}


@pytest.mark.parametrize(
    "config",
    [
        {"duration": "72h"},
        {"until": "2030-01-01T09:00:00+01:00"},
        {"until": "${ .input.due }"},
        {"signal": "order.paid", "correlation": "${ .input.order }", "timeout": "2h"},
        {"signal": "order.paid"},
    ],
)
def test_each_kind_of_wait_is_valid(issues, config: dict[str, Any]) -> None:
    assert issues([wait(**config)]) == []


def test_a_wait_needs_exactly_one_kind_even_when_they_are_expressions(issues) -> None:
    [(node, field, message)] = issues([wait(duration="1m", until="${ .input.due }")])
    assert (node, field) == ("hold", "config")
    assert (
        "exactly one of `duration`, `until` and `signal` (found `duration` and `until`)" in message
    )

    [(_, _, message)] = issues([wait()])
    assert "(found none)" in message


def test_a_timeout_applies_only_to_a_signal(issues) -> None:
    [(_, field, message)] = issues([wait(duration="1m", timeout="5m")])
    assert field == "config"
    assert "`timeout` only apply to a wait for a `signal`" in message


def test_a_time_without_a_zone_is_refused(issues) -> None:
    [(_, field, message)] = issues([wait(until="2030-01-01T09:00:00")])
    assert field == "config.until"
    assert "timezone" in message.lower()


def test_a_wait_without_a_timeout_has_no_ports(issues) -> None:
    nodes = [
        wait(until="${ .input.due }"),
        {"id": "go", "type": "core.log", "config": {"message": "go"}},
    ]
    assert issues(nodes, [{"from": "hold", "to": "go"}]) == []
    [(_, field, message)] = issues(nodes, [{"from": "hold", "port": "done", "to": "go"}])
    assert field == "edges[0].port"
    assert "has no ports" in message


def test_the_timeout_port_is_routed_like_any_port(issues) -> None:
    nodes = [
        wait(signal="approved", timeout="1h"),
        {"id": "go", "type": "core.log", "config": {"message": "go"}},
        {"id": "late", "type": "core.log", "config": {"message": "late"}},
    ]
    edges = [
        {"from": "hold", "port": "done", "to": "go"},
        {"from": "hold", "port": "timeout", "to": "late"},
    ]
    assert issues(nodes, edges) == []
    [(_, field, message)] = issues(nodes[:2], [{"from": "hold", "port": "late", "to": "go"}])
    assert field == "edges[0].port"
    assert "'done', 'timeout'" in message or "done, timeout" in message


def test_a_signal_wait_inside_a_body_is_refused(issues) -> None:
    mapped = {
        "id": "each",
        "type": "core.map",
        "config": {"items": [1, 2]},
        "body": {"nodes": [wait("inner", signal="go")], "edges": []},
    }
    [(node, field, message)] = issues([mapped])
    assert (node, field) == ("inner", "config.signal")
    assert "in the body of 'each'" in message and "top level" in message
    timed = {**mapped, "body": {"nodes": [wait("inner", duration="1s")], "edges": []}}
    assert issues([timed]) == []
