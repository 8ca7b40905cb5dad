"""`core.subworkflow`: run another published workflow of the project as a child run."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from connectors_sdk._expressions import literal_only
from connectors_sdk._node import AnyObject, Node

_WORKFLOW_NAME = r"^[a-z0-9][a-z0-9._-]*$"
_RESOLVED_AT_START = literal_only("the control plane resolves the workflow when the run starts")


class SubWorkflow(Node):
    """Run a published workflow of the same project with this node's input as its run
    input; the child run's output is the node's output, its failure the node's failure.

    The version is pinned, or the latest when the calling run starts: the control plane
    resolves it then and signs the definition into the run's descriptor, so a run always
    calls the versions it started with. The child is a run of its own in the API, linked to
    its parent.
    """

    type = "core.subworkflow"
    interpreted = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        # Both are read before the run starts, to resolve the definition it calls.
        workflow: Annotated[str, _RESOLVED_AT_START] = Field(
            max_length=100,
            pattern=_WORKFLOW_NAME,
            description="The name of a workflow published in the same project.",
        )
        version: Annotated[int | None, _RESOLVED_AT_START] = Field(
            None, ge=1, description="A published version; omitted: the latest at start."
        )

    Input = AnyObject
    Output = AnyObject


def reference_key(workflow: str, version: int | None) -> str:
    """How a run's descriptor names a called workflow: "<name>" for the latest version at
    start, "<name>@<version>" for a pinned one."""
    return workflow if version is None else f"{workflow}@{version}"
