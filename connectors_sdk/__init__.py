"""FlowForge connectors SDK: node types, workflow definitions and expressions.

Everything public is importable from here; the `_` modules are private. Also public:
`connectors_sdk.testing` (the local node harness) and `connectors_sdk.nodes.*` (the
built-in `core.*` node types).
"""

from connectors_sdk._canonical import canonical_json
from connectors_sdk._definition import (
    Body,
    BreakerPolicy,
    Duration,
    EdgeSpec,
    NodeSpec,
    RetryPolicy,
    WorkflowDefinition,
    definition_sha256,
    load_definition_file,
    parse_duration,
)
from connectors_sdk._errors import (
    ConnectorError,
    ConnectorExecutionError,
    DefinitionInvalidError,
    DefinitionIssue,
    ExpressionError,
    NodeDefinitionError,
)
from connectors_sdk._execute import evaluate_node, execute_node, find_breaker_target
from connectors_sdk._expressions import (
    check_expression_syntax,
    evaluate,
    evaluate_with,
    find_expressions,
    is_expression,
    run_program,
)
from connectors_sdk._flow import ERROR_PORT, JoinMode, NodeFailure
from connectors_sdk._inline import INLINE_SUBSET_VERSION, is_inline_program, referenced_nodes
from connectors_sdk._node import (
    AnyObject,
    Node,
    NodeContext,
    NodeResult,
    ports_depend_on_config,
)
from connectors_sdk._registry import NodeRegistry, default_registry
from connectors_sdk._validation import parse_definition, validate_definition

__all__ = [
    "ERROR_PORT",
    "INLINE_SUBSET_VERSION",
    "AnyObject",
    "Body",
    "BreakerPolicy",
    "ConnectorError",
    "ConnectorExecutionError",
    "DefinitionInvalidError",
    "DefinitionIssue",
    "Duration",
    "EdgeSpec",
    "ExpressionError",
    "JoinMode",
    "Node",
    "NodeContext",
    "NodeDefinitionError",
    "NodeFailure",
    "NodeRegistry",
    "NodeResult",
    "NodeSpec",
    "RetryPolicy",
    "WorkflowDefinition",
    "canonical_json",
    "check_expression_syntax",
    "default_registry",
    "definition_sha256",
    "evaluate",
    "evaluate_node",
    "evaluate_with",
    "execute_node",
    "find_breaker_target",
    "find_expressions",
    "is_expression",
    "is_inline_program",
    "load_definition_file",
    "parse_definition",
    "parse_duration",
    "ports_depend_on_config",
    "referenced_nodes",
    "run_program",
    "validate_definition",
]
