"""Inputs and results of the Temporal workflow and activities (one model per boundary).

Fields are added only with defaults so that running workflows and older workers keep working.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

from data_plane.protocol import RunEvent

NodeMode = Literal["pure", "local", "activity"]


class DagRunInput(BaseModel):
    run_id: str
    pool: str
    definition: dict[str, Any]
    input: dict[str, Any] = Field(default_factory=dict)
    # How each node type executes, fixed when the run starts so that replays never depend
    # on which node packages a worker has installed later.
    modes: dict[str, NodeMode] = Field(default_factory=dict)


class DagRunResult(BaseModel):
    status: Literal["SUCCEEDED", "FAILED"]
    output: Any = None
    error: str | None = None


class RunNodeInput(BaseModel):
    run_id: str
    pool: str
    node_id: str
    node_type: str
    config: dict[str, Any]
    input: Any
    max_attempts: int
    # Events the workflow produced since its last activity, published before the node runs.
    events: list[RunEvent] = Field(default_factory=list)


class RunNodeResult(BaseModel):
    output: dict[str, Any]
    port: str | None = None


class PublishEventsInput(BaseModel):
    pool: str
    events: list[RunEvent]
