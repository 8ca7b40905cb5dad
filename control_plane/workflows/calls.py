"""The calls a definition makes to other workflows (`core.subworkflow` nodes)."""

from collections.abc import Iterator, Mapping
from typing import Any

from connectors_sdk.nodes.subworkflow import SubWorkflow


def calls_in(definition: Mapping[str, Any]) -> Iterator[tuple[str, str, int | None]]:
    """(node id, workflow name, version) of the sub-workflow nodes, bodies included."""
    nodes = list(definition.get("nodes") or [])
    while nodes:
        node = nodes.pop(0)
        body = node.get("body") or {}
        nodes.extend(body.get("nodes") or [])
        if node.get("type") == SubWorkflow.type:
            config = SubWorkflow.Config.model_validate(node.get("config") or {})
            yield node["id"], config.workflow, config.version
