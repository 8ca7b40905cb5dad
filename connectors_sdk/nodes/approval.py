"""`core.approval`: a human task. The run waits until enough of the assignees decided,
or the task is due; the decision form is a JSON Schema the API checks decisions against.
"""

import re
from typing import Annotated, Any

import jsonschema
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from connectors_sdk._definition import Duration
from connectors_sdk._node import AnyObject, Node
from connectors_sdk._publishing import at_publish

MAX_ASSIGNEES = 100
# An assignee: "role:<role>", "group:<name>", or a user's email or id, an API token's
# name or id.
ASSIGNEE_PATTERN = r"^[A-Za-z0-9_.@:-]+$"
_ASSIGNEE = re.compile(ASSIGNEE_PATTERN)
ROLES = ("viewer", "operator", "editor", "owner")
"""The roles `role:<role>` may name, lowest first: those of `control_plane.access.roles.Role`
(which this package may not import; a test keeps the two equal). A role is held in a
workspace or a project, so `role:operator` is whoever holds operator or above in the
run's project."""
# What every decision holds, whatever the form adds.
DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["approved"],
    "properties": {"approved": {"type": "boolean"}},
}


def _assignee(name: str, info: ValidationInfo) -> str:
    if not _ASSIGNEE.match(name):
        raise PydanticCustomError(
            "bad_assignee",
            "bad assignee {name}: use a user's email or id, an API token's name, "
            "role:<role> or group:<name> (letters, digits and _ . @ : -)",
            {"name": repr(name)},
        )
    # Checked at publish only (see `_publishing.py`): runs of versions published before
    # the check replay their config as it was.
    kind, _, value = name.partition(":")
    if at_publish(info) and kind == "role" and value not in ROLES:
        raise PydanticCustomError(
            "unknown_role",
            "{role} is not a role, so nobody could decide the task; roles are {roles} "
            "(in the run's project); for a group of the identity provider write group:<name>",
            {"role": repr(value), "roles": ", ".join(ROLES)},
        )
    if at_publish(info) and kind == "group" and not value:
        raise PydanticCustomError(
            "empty_group",
            "'group:' names no group: write group:<name>, a group of the identity provider",
        )
    return name


Assignee = Annotated[str, AfterValidator(_assignee)]


class Approval(Node):
    """Ask people to decide: `required` of the `assignees` must approve.

    Each decision is an object with `approved` (true or false) and the fields of `form`
    (a JSON Schema for the rest of the decision, e.g. a comment). The node takes the port
    `approved` once `required` decisions approve, `rejected` as soon as that can no longer
    happen, and `timeout` when the task is `due` with no outcome; with `escalate_to`, a
    task that comes due is first reassigned to those assignees, with a new `due`. Output:
    {"approved", "decisions": [{"decided_by", "decided_at", "decision"}]}, and
    {"timed_out_at"} on a timeout.
    """

    type = "core.approval"
    interpreted = True
    ports = ("approved", "rejected", "timeout")

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        assignees: list[Assignee] = Field(
            min_length=1,
            max_length=MAX_ASSIGNEES,
            description="Who may decide: users (email or id), API tokens (name or id), "
            '"role:<viewer|operator|editor|owner>" (that role or above in the project) or '
            '"group:<name>" (a group of the identity provider).',
        )
        required: int = Field(1, ge=1, description="How many must approve.")
        form: dict[str, Any] = Field(
            default_factory=lambda: {"type": "object"},
            description="JSON Schema of the decision's other fields.",
        )
        title: str | None = Field(None, max_length=200, description="What to decide.")
        due: Duration | None = Field(None, description="How long the task may stay open.")
        escalate_to: list[Assignee] | None = Field(
            None,
            min_length=1,
            max_length=MAX_ASSIGNEES,
            description="Who the task goes to once due, with a new `due` (once).",
        )

        @field_validator("form")
        @classmethod
        def _form_is_a_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                raise PydanticCustomError(
                    "bad_form",
                    "not a JSON Schema: {reason}; give the schema of the decision's fields",
                    {"reason": exc.message},
                ) from None
            return value

        @field_validator("escalate_to")
        @classmethod
        def _escalation_needs_due(
            cls, value: list[str] | None, info: ValidationInfo
        ) -> list[str] | None:
            # `due` is left out of `info.data` when it failed to validate (an expression
            # does, at publish time): only a `due` known to be unset is missing.
            if value is not None and "due" in info.data and info.data["due"] is None:
                raise PydanticCustomError(
                    "escalation_without_due",
                    "`escalate_to` applies once the task is due: give `due` as well",
                )
            return value

    Input = AnyObject
    Output = AnyObject


def decision_schema(form: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema a decision of this form must satisfy: the form, and `approved`."""
    return {"allOf": [DECISION_SCHEMA, form]}
