import connectors_sdk


def test_public_api_is_exactly_the_curated_list():
    assert connectors_sdk.__all__ == [
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


def test_every_exported_name_exists_and_has_a_docstring():
    for name in connectors_sdk.__all__:
        value = getattr(connectors_sdk, name)
        if name != "Duration":  # an Annotated alias: documented in _definition.py
            assert value.__doc__, name


def test_errors_form_one_tree_with_stable_codes():
    codes = {
        connectors_sdk.ConnectorError: "connector_error",
        connectors_sdk.ConnectorExecutionError: "execution_failed",
        connectors_sdk.ExpressionError: "bad_expression",
        connectors_sdk.NodeDefinitionError: "bad_node_class",
        connectors_sdk.DefinitionInvalidError: "invalid_definition",
    }
    for error, code in codes.items():
        assert issubclass(error, connectors_sdk.ConnectorError)
        assert error.code == code
    assert connectors_sdk.ConnectorExecutionError("x").retryable is True
    assert connectors_sdk.ConnectorExecutionError("x", retryable=False).retryable is False
