"""Every example workflow is valid and listed in examples/README.md, and the README's
tour runs as written. Each other example has a test file of its own beside this one."""

from pathlib import Path

import pytest

from connectors_sdk import NodeRegistry, load_definition_file, validate_definition

from fixtures.examples import EXAMPLES, EXAMPLES_DIR, example
from fixtures.stack import Stack


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_a_valid_definition(path: Path) -> None:
    definition, issues = validate_definition(
        load_definition_file(path), NodeRegistry.from_entry_points()
    )

    assert issues == []
    assert definition is not None


def test_every_example_is_listed_in_the_examples_readme() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text()

    assert [p.name for p in EXAMPLES if f"[{p.name}]({p.name})" not in readme] == []


@pytest.mark.parametrize(
    ("vip", "greeting", "skipped"),
    [(True, "HELLO, ADA!", "log"), (False, "Hello, Ada!", "shout")],
)
async def test_hello_example_greets(stack: Stack, vip: bool, greeting: str, skipped: str) -> None:
    run = await stack.run_to_end(example("hello"), {"name": "Ada", "vip": vip})

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"greeting": greeting}
    assert {n["nodeId"]: n["status"] for n in run["nodes"]}[skipped] == "SKIPPED"
