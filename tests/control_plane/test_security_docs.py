"""The table of what each role may do, in docs/security.md, is the one the permission
declarations make: the page cannot drift from the code."""

import re
from pathlib import Path

from control_plane.graphql.roles_table import roles_table
from control_plane.graphql.schema import DECLARATIONS

DOC = Path(__file__).parents[2] / "docs" / "security.md"
BLOCK = re.compile(
    r"<!-- roles table: generated[^\n]*-->\n(?P<table>.*?)<!-- end of roles table -->",
    re.DOTALL,
)


def test_the_roles_table_in_the_security_page_is_the_generated_one() -> None:
    found = BLOCK.findall(DOC.read_text(encoding="utf-8"))

    assert len(found) == 1, "docs/security.md needs one roles table between the markers"
    assert found[0] == roles_table(DECLARATIONS), (
        "the roles table is out of date: paste the output of "
        "`python -m control_plane.graphql.roles_table` between the markers in docs/security.md"
    )


def test_the_table_names_every_root_field_once() -> None:
    table = roles_table(DECLARATIONS)
    named = re.findall(r"`(\w+)`", table)

    assert sorted(named) == sorted(f.partition(".")[2] for f in DECLARATIONS.fields)


def test_a_role_has_what_the_roles_below_it_have() -> None:
    for line in roles_table(DECLARATIONS).splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")][2:]
        granted = [cell == "✓" for cell in cells]

        assert granted == sorted(granted), line
