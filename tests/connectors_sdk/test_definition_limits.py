"""Limits of the definition format, checked by `validate_definition` and the file loader,
so the CLI refuses what the control plane would (Hardening #3 and #11)."""

from pathlib import Path
from typing import Any

import pytest

from connectors_sdk import (
    ConnectorError,
    NodeRegistry,
    default_registry,
    load_definition_file,
    validate_definition,
)


def log_node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.log", "config": {"message": "m"}, **fields}


def definition(nodes: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "flowforge/v1", "name": "flow", "nodes": nodes, **fields}


@pytest.fixture
def registry() -> NodeRegistry:
    return default_registry()


def issues_of(data: dict[str, Any], registry: NodeRegistry) -> list[tuple[str | None, str, str]]:
    _, issues = validate_definition(data, registry)
    return [(i.node_id, i.field, i.message) for i in issues]


def test_a_thousand_nodes_are_accepted(registry: NodeRegistry) -> None:
    nodes = [log_node(f"n{i}") for i in range(1000)]

    assert issues_of(definition(nodes), registry) == []


def test_more_than_a_thousand_nodes_are_refused_naming_the_limit(registry: NodeRegistry) -> None:
    nodes = [log_node(f"n{i}") for i in range(1001)]

    assert issues_of(definition(nodes), registry) == [
        (None, "nodes", "1001 nodes; a definition holds at most 1000: split the workflow")
    ]


def test_node_id_longer_than_its_column_is_refused(registry: NodeRegistry) -> None:
    long_id = "a" * 10_000

    [(node_id, field, message)] = issues_of(definition([log_node(long_id)]), registry)

    assert (node_id, field) == (long_id, "id")
    assert "at most 100 characters" in message


def test_name_and_pool_longer_than_their_columns_are_refused(registry: NodeRegistry) -> None:
    data = definition([log_node("a", pool="p" * 101)], name="n" * 101)

    found = issues_of(data, registry)

    assert (None, "name", "String should have at most 100 characters") in found
    assert ("a", "pool", "String should have at most 100 characters") in found


@pytest.mark.parametrize("timeout", ["99999999999h", 1e308, "8761h", 31_536_001])
def test_durations_over_a_year_are_refused_naming_the_maximum(
    registry: NodeRegistry, timeout: object
) -> None:
    [(node_id, field, message)] = issues_of(definition([log_node("a", timeout=timeout)]), registry)

    assert (node_id, field) == ("a", "timeout")
    assert "at most 31536000s (365 days) is allowed" in message


def test_a_duration_of_one_year_is_accepted(registry: NodeRegistry) -> None:
    data = definition([log_node("a", timeout="8760h", retry={"max_interval": "8760h"})])

    assert issues_of(data, registry) == []


def test_yaml_aliases_are_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    lines = ["apiVersion: flowforge/v1", "name: bomb", 'a0: &a0 ["x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 6)}]" for i in range(1, 10)]
    path.write_text("\n".join([*lines, "nodes: []", ""]))

    with pytest.raises(ConnectorError) as raised:
        load_definition_file(path)

    assert raised.value.code == "unreadable_definition"
    assert f"{path}:4:" in raised.value.message
    assert "alias *a0 is not allowed in a definition" in raised.value.message


def test_yaml_anchors_without_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("apiVersion: flowforge/v1\nname: flow\nnodes: &n []\n")

    assert load_definition_file(path)["nodes"] == []


def test_json_file_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)

    with pytest.raises(ConnectorError, match="nested too deeply"):
        load_definition_file(path)
