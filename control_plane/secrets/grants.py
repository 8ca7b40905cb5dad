"""Which project secrets a definition maps onto its nodes, whether the project has them,
and the grants of a run: what the control plane checks at publish and at start, and what
a descriptor names (never a value)."""

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors_sdk import DefinitionIssue, WorkflowDefinition
from control_plane.db.models import Secret
from control_plane.errors import InvalidInputError


@dataclass(frozen=True)
class MappedSecret:
    """A project secret a node receives, and the field of the node that maps it."""

    node_id: str
    field: str
    """`secrets.<name the node sees>` for a mapping, `secrets[<i>]` for a list."""
    name: str
    """The project secret's name."""


def mapped_secrets(definition: WorkflowDefinition) -> list[MappedSecret]:
    """Every project secret the definition's nodes map, bodies included, in node order."""
    return [
        MappedSecret(node.id, node.secret_fields[seen], name)
        for node in definition.all_nodes()
        for seen, name in node.secret_map.items()
    ]


def run_grants(definitions: Iterable[Mapping[str, Any]]) -> list[str]:
    """The project secrets a run may read: those its definition and the definitions of
    its sub-workflows map, sorted, each once (CPU-bound: call it in a thread)."""
    return sorted({mapped.name for _, mapped in _mapped_in(definitions)})


async def missing_secrets(
    session: AsyncSession, project_id: str, mapped: Iterable[MappedSecret]
) -> list[MappedSecret]:
    """The mappings whose project secret the project does not have."""
    wanted = list(mapped)
    names = {m.name for m in wanted}
    if not names:
        return []
    found = set(
        await session.scalars(
            select(Secret.name).where(Secret.project_id == project_id, Secret.name.in_(names))
        )
    )
    return [m for m in wanted if m.name not in found]


def publish_issue(missing: MappedSecret) -> DefinitionIssue:
    return DefinitionIssue(
        missing.node_id,
        missing.field,
        f"project secret {missing.name!r} does not exist in this project: set it first "
        f"(flowforge secrets set {missing.name}), or map the node onto a secret that exists",
    )


async def check_run_secrets(
    session: AsyncSession, project_id: str, definitions: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse a run whose definition, or a sub-workflow's, maps a project secret that
    was deleted since it was published.

    Raises:
        InvalidInputError: naming each such node, its field, its workflow and the secret.
    """
    # Parsing a definition of a thousand nodes takes ~50 ms: off the event loop, as a
    # publish's validation is.
    mapped = await asyncio.to_thread(_mapped_in, definitions)
    missing = set(await missing_secrets(session, project_id, (m for _, m in mapped)))
    gone = [
        f"node {m.node_id!r} of workflow {workflow!r}, {m.field}: project secret {m.name!r}"
        for workflow, m in mapped
        if m in missing
    ]
    if gone:
        raise InvalidInputError(
            f"workflowId: the run needs secrets the project no longer has ({'; '.join(gone)}); "
            "set them again (flowforge secrets set NAME), or start a version that does not "
            "map them",
            field="workflowId",
        )


def _mapped_in(definitions: Iterable[Mapping[str, Any]]) -> list[tuple[str, MappedSecret]]:
    """(workflow name, mapping) of every project secret the definitions map."""
    mapped = []
    for definition in definitions:
        parsed = WorkflowDefinition.model_validate(definition)
        mapped += [(parsed.name, m) for m in mapped_secrets(parsed)]
    return mapped
