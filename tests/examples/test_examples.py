"""Every example workflow is valid, and the README's tour runs as written."""

from pathlib import Path

import pytest

from connectors_sdk import NodeRegistry, load_definition_file, validate_definition

from fixtures.stack import Stack

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_a_valid_definition(path: Path) -> None:
    definition, issues = validate_definition(
        load_definition_file(path), NodeRegistry.from_entry_points()
    )

    assert issues == []
    assert definition is not None


@pytest.mark.parametrize(
    ("vip", "greeting", "skipped"),
    [(True, "HELLO, ADA!", "log"), (False, "Hello, Ada!", "shout")],
)
async def test_hello_example_greets(stack: Stack, vip: bool, greeting: str, skipped: str) -> None:
    hello = load_definition_file(EXAMPLES[0].with_name("hello.yaml"))

    run = await stack.run_to_end(hello, {"name": "Ada", "vip": vip})

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"greeting": greeting}
    assert {n["nodeId"]: n["status"] for n in run["nodes"]}[skipped] == "SKIPPED"
