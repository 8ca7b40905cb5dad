"""Every complete definition in docs/definition-format.md is valid as written."""

import re
from pathlib import Path

import pytest
import yaml

from connectors_sdk import validate_definition

DOC = Path(__file__).parents[2] / "docs" / "definition-format.md"
EXAMPLES = [
    block
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    if block.startswith("apiVersion:")
]


def test_the_format_page_has_complete_examples():
    names = [yaml.safe_load(block)["name"] for block in EXAMPLES]
    assert {
        "route-by-temperature",
        "quote-from-either-supplier",
        "fetch-or-alert",
        "check-every-site",
        "wait-for-export",
        "fetch-and-notify",
    } <= set(names)


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda block: yaml.safe_load(block)["name"])
def test_a_complete_example_is_a_valid_definition(registry, block):
    definition, issues = validate_definition(yaml.safe_load(block), registry)

    assert issues == []
    assert definition is not None
