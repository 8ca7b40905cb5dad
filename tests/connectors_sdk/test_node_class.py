import logging
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from connectors_sdk import (
    AnyObject,
    BreakerPolicy,
    ConnectorError,
    Node,
    NodeContext,
    NodeDefinitionError,
    NodeRegistry,
    NodeResult,
    default_registry,
)
from connectors_sdk.nodes import approval, control, http, iteration, log, subworkflow, wait
from connectors_sdk.nodes.control import If
from connectors_sdk.nodes.http import HttpRequest


class Echo(Node):
    """Echo the input.

    More words.
    """

    type = "test.echo"

    async def run(self, ctx: NodeContext, config: AnyObject, input: AnyObject) -> AnyObject:
        return input


def test_defaults_are_derived_from_the_class():
    assert Echo.title == "Echo"
    assert Echo.description == "Echo the input."
    assert HttpRequest.title == "Http Request"
    assert (Echo.version, Echo.ports, Echo.pure, Echo.lightweight) == (1, (), False, False)
    assert Echo.Input is AnyObject and Echo.Config is AnyObject


def test_schemas_are_the_models_json_schemas():
    schemas = HttpRequest.schemas()
    assert set(schemas) == {"input", "output", "config"}
    assert schemas["config"]["required"] == ["url"]
    assert schemas["output"] == HttpRequest.Output.model_json_schema()


def test_node_context_defaults_to_no_secrets_no_idempotency_key_and_no_iteration():
    ctx = NodeContext(run_id="r", node_id="n", attempt=1, logger=logging.getLogger("t"))
    assert dict(ctx.secrets) == {}
    assert (ctx.idempotency_key, ctx.iteration) == ("", "")


def test_a_node_type_has_one_breaker_and_the_worker_s_policy_unless_it_says_otherwise():
    assert Echo.breaker is None
    assert Echo.breaker_target(AnyObject(), AnyObject()) is None


def test_ports_for_defaults_to_the_declared_ports():
    assert If.ports_for(If.Config(condition=True)) == ("true", "false")
    assert Echo.ports_for(AnyObject()) == ()


def test_only_pure_nodes_may_have_ports_that_depend_on_their_config():
    with pytest.raises(NodeDefinitionError, match="only pure nodes can have ports"):

        class Lanes(Node):
            type = "test.lanes"

            @classmethod
            def ports_for(cls, config: AnyObject) -> tuple[str, ...]:
                return ("a",)

            async def run(self, ctx: NodeContext, config: AnyObject, input: AnyObject) -> AnyObject:
                return input


def test_ports_for_must_be_a_classmethod():
    with pytest.raises(NodeDefinitionError, match="ports_for must be a @classmethod"):

        class Lanes(Node):
            type = "test.lanes"
            pure = True

            def ports_for(self, config: AnyObject) -> tuple[str, ...]:  # type: ignore[override]
                return ("a",)

            def evaluate(self, config: AnyObject, input: AnyObject) -> NodeResult:
                return NodeResult(output={}, port="a")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "declare `type"),
        ({"type": "Bad"}, "type 'Bad' must be dotted lower-case words"),
        ({"type": "nodot"}, "must be dotted"),
        ({"type": "t.x", "version": 0}, "version 0 must be an integer >= 1"),
        ({"type": "t.x", "Input": dict}, "Input must be a pydantic BaseModel subclass"),
        ({"type": "t.x", "ports": ["a"]}, "ports must be a tuple of strings"),
        ({"type": "t.x", "secrets": ("bad name",)}, r"secrets \['bad name'\] must match"),
        ({"type": "t.x", "pure": True}, "a pure node must implement `def evaluate"),
        ({"type": "t.x", "run": lambda self, ctx, c, i: None}, "run\\(\\) must be `async def`"),
        ({"type": "t.x", "ports": ("a",), "run": Echo.run}, "only pure nodes can have ports"),
        ({"type": "t.x", "pure": True, "lightweight": True}, "either pure"),
        ({"type": "t.x", "ports": ("ok", "error"), "run": Echo.run}, "must not include 'error'"),
        ({"type": "t.x", "breaker": {"failures": 3}}, "breaker must be a BreakerPolicy or None"),
        (
            {"type": "t.x", "breaker_target": lambda cls, c, i: "host"},
            "breaker_target must be a @classmethod",
        ),
        (
            {"type": "t.x", "pure": True, "breaker": BreakerPolicy(failures=2)},
            "t.x is pure: it makes no calls, so no breaker can guard them; drop `breaker`",
        ),
    ],
)
def test_malformed_node_classes_fail_when_defined(body, message):
    body.setdefault("run", body.get("run", Echo.run) if not body.get("pure") else Node.run)
    with pytest.raises(NodeDefinitionError, match=message) as caught:
        type("Broken", (Node,), body)
    assert caught.value.code == "bad_node_class"
    assert "Broken is malformed" in str(caught.value)


def test_a_pure_node_with_an_async_evaluate_fails():
    async def evaluate(self, config, input):
        return NodeResult(output={})

    with pytest.raises(NodeDefinitionError, match="evaluate\\(\\) must be synchronous"):
        type("Broken", (Node,), {"type": "t.x", "pure": True, "evaluate": evaluate})


def test_an_abstract_base_needs_no_type():
    class Base(Node, abstract=True):
        class Config(BaseModel):
            token: str

    class Concrete(Base):
        type = "test.concrete"

        async def run(self, ctx, config, input):
            return AnyObject()

    assert Concrete.Config is Base.Config


def test_a_concrete_subclass_must_declare_its_own_type():
    with pytest.raises(NodeDefinitionError, match="declare `type"):

        class Copy(Echo):
            pass


def test_registry_register_get_and_types():
    registry = NodeRegistry()
    assert registry.register(Echo) is Echo
    registry.register(Echo)
    registry.register(If)
    assert "test.echo" in registry and "core.http" not in registry
    assert registry.get("test.echo") is Echo
    assert registry.types() == [If, Echo]


def test_registry_refuses_a_second_class_for_a_type():
    registry = NodeRegistry()
    registry.register(Echo)
    other = type("Other", (Node,), {"type": "test.echo", "run": Echo.run})
    with pytest.raises(ConnectorError, match="provided by both") as caught:
        registry.register(other)
    assert caught.value.code == "duplicate_node_type"


def test_unknown_type_lists_the_known_ones():
    registry = NodeRegistry()
    registry.register(Echo)
    with pytest.raises(ConnectorError, match=r"unknown node type 'x\.y'; known types: test\.echo"):
        registry.get("x.y")
    with pytest.raises(ConnectorError) as caught:
        registry.get("x.y")
    assert caught.value.code == "unknown_node_type"


def test_default_registry_loads_the_core_nodes_from_entry_points():
    registry = default_registry()
    core = [cls.type for cls in registry.types() if cls.type.startswith("core.")]
    assert core == [
        "core.approval",
        "core.http",
        "core.if",
        "core.log",
        "core.loop",
        "core.map",
        "core.merge",
        "core.subworkflow",
        "core.switch",
        "core.transform",
        "core.wait",
    ], "the installed entry points are not pyproject.toml's: run `pip install -e .` again"
    assert registry is not default_registry()


def test_every_built_in_node_type_is_declared_as_an_entry_point():
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["flowforge.nodes"]
    built_in = {
        value.type: f"{module.__name__}:{name}"
        for module in (approval, control, http, iteration, log, subworkflow, wait)
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, Node)
        and value.__module__ == module.__name__
    }
    assert declared == built_in


def test_a_broken_entry_point_is_named(monkeypatch):
    from importlib.metadata import EntryPoint

    from connectors_sdk import _registry

    broken = EntryPoint(name="acme.broken", value="acme_missing:Node", group="flowforge.nodes")
    monkeypatch.setattr(_registry, "entry_points", lambda group: [broken])
    with pytest.raises(
        ConnectorError, match=r"entry point 'acme\.broken'.*does not load"
    ) as caught:
        NodeRegistry.from_entry_points()
    assert caught.value.code == "bad_entry_point"


def test_an_entry_point_named_after_another_type_is_refused(monkeypatch):
    from importlib.metadata import EntryPoint

    from connectors_sdk import _registry

    misnamed = EntryPoint(
        name="core.other", value="connectors_sdk.nodes.control:If", group="flowforge.nodes"
    )
    monkeypatch.setattr(_registry, "entry_points", lambda group: [misnamed])
    with pytest.raises(ConnectorError, match="name the entry point after the node type"):
        NodeRegistry.from_entry_points()


async def test_the_harness_refuses_a_port_the_node_does_not_declare():
    from connectors_sdk.testing import run_node

    class Router(Node):
        type = "test.router"
        pure = True
        ports = ("left", "right")

        def evaluate(self, config, input):
            return NodeResult(output={}, port="up")

    with pytest.raises(ConnectorError, match="returned port 'up'") as caught:
        await run_node(Router, {}, {})
    assert caught.value.code == "bad_port"
