"""Node values that travel by reference: stored when too large, loaded where used.

An activity whose node produced more than the inline limit stores the output in the
artefact store and returns its reference (`data_plane.protocol.ArtefactRef`) instead;
events and Temporal history then carry only the reference. Wherever a node's config or
input, or an expression's context, holds a reference, the activity about to use it loads
the value first. The workflow never loads anything: an expression reading a referenced
output is evaluated by the `evaluate_expressions` local activity.
"""

from typing import Any

from connectors_sdk import canonical_json
from data_plane.errors import OutputTooLargeError
from data_plane.protocol import ArtefactStore, as_artefact_ref

# How deep a value is searched for references (they stand for whole node outputs, so
# they are found near the top).
MAX_DEPTH = 8


async def load_references(value: Any, store: ArtefactStore | None, depth: int = 0) -> Any:
    """`value` with every reference in it replaced by the value it names.

    Raises:
        ArtefactError: A reference cannot be read (missing, corrupt, over the size limit).
    """
    if store is None or depth > MAX_DEPTH:
        return value
    ref = as_artefact_ref(value)
    if ref is not None:
        return await store.get_json(ref)
    if isinstance(value, dict):
        return {k: await load_references(v, store, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [await load_references(v, store, depth + 1) for v in value]
    return value


async def by_reference_if_large(
    output: dict[str, Any], node_id: str, limit: int, store: ArtefactStore | None
) -> dict[str, Any]:
    """The output itself if it fits `limit` bytes, else the reference of its stored copy.

    Raises:
        OutputTooLargeError: It does not fit and there is no store to keep it.
    """
    size = len(canonical_json(output))
    if size <= limit:
        return output
    if store is None:
        raise OutputTooLargeError(node_id, size, limit)
    ref = await store.put_json(output)
    return ref.to_json()
