"""The exception tree of `connectors_sdk`, and the issue record of definition validation.

Every error has a stable `code` that callers may switch on; messages name the bad value
and the fix::

    ConnectorError                  code: connector_error (or a more precise code per raise)
     ├── ConnectorExecutionError    code: execution_failed   (.retryable)
     ├── ExpressionError            code: bad_expression
     ├── NodeDefinitionError        code: bad_node_class
     └── DefinitionInvalidError     code: invalid_definition (.issues)

Codes given per raise rather than by a subclass: `unknown_node_type`,
`duplicate_node_type`, `bad_entry_point` (registry), `unreadable_definition` (loading),
`bad_port` and `not_pure` (executing a node).
"""

from collections.abc import Sequence
from dataclasses import dataclass


class ConnectorError(Exception):
    """Base of every error raised by `connectors_sdk` and by connector code.

    Args:
        message: What went wrong, naming the bad value and the fix.
        code: Overrides the class's `code` for this instance.
    """

    code: str = "connector_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConnectorExecutionError(ConnectorError):
    """A node failed while running; the data plane retries it when `retryable` is true.

    Args:
        message: What failed (for HTTP: method, URL and status).
        retryable: False when repeating the call cannot succeed (a 4xx answer, a bad URL).
    """

    code = "execution_failed"

    def __init__(self, message: str, *, retryable: bool = True, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable


class ExpressionError(ConnectorError):
    """A `${ ... }` expression does not compile, or failed when evaluated."""

    code = "bad_expression"


class NodeDefinitionError(ConnectorError):
    """A `Node` subclass is malformed; raised when the class statement runs."""

    code = "bad_node_class"


@dataclass(frozen=True)
class DefinitionIssue:
    """One problem found in a workflow definition.

    Attributes:
        node_id: The node the issue belongs to, or None for workflow-level issues.
        field: Dotted path of the bad field, relative to the node when `node_id` is set
            ("config.url", "inputs.body", "type") and to the definition otherwise
            ("edges[2].to", "nodes", "output").
        message: What is wrong and, where it helps, how to fix it.
    """

    node_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"node {self.node_id!r}: " if self.node_id is not None else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class DefinitionInvalidError(ConnectorError):
    """A workflow definition failed validation; `issues` lists every problem found.

    Args:
        issues: The issues, in the order validation found them (at least one).
    """

    code = "invalid_definition"

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        self.issues: list[DefinitionIssue] = list(issues)
        count = len(self.issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        plural = "" if count == 1 else "s"
        super().__init__(f"invalid workflow definition ({count} issue{plural}):\n{lines}")
