"""The table of what each role may do, in docs/security.md, made from the permission
declarations so that the page cannot drift from them (tests/control_plane/
test_security_docs.py compares the two).

It lives beside `permissions.py`, which it reads, rather than in `access/`: `access` is
below `graphql` and must not import it. Each cell is the answer `Principal.may` gives a
principal holding that role where the object is.

Print it with `python -m control_plane.graphql.roles_table`.
"""

import sys
from collections.abc import Iterable

from control_plane.access.principal import Principal, Scope
from control_plane.access.roles import Permission, Role
from control_plane.graphql.permissions import Declarations, Rule

_YES, _NO = "✓", "—"
# A project of a workspace in which the principal holds the column's role.
_SCOPE = Scope("workspace", "project")
# Rows in this order: what anyone may use first, then reads, then each permission as
# `Permission` ranks them.
_KIND_ORDER = {"authenticated": 0, "listed": 1, "result": 2, "arguments": 3, "instance": 3}


def _principal(role: Role | None) -> Principal:
    if role is None:
        return Principal(id="token:table", kind="token", name="table", instance_admin=True)
    return Principal(
        id="token:table",
        kind="token",
        name="table",
        workspace_roles={_SCOPE.workspace_id: role},
    )


def needs(rule: Rule) -> str:
    """What the rule asks for, in the words of the docs."""
    match rule.kind:
        case "authenticated":
            return "any principal, with or without a role"
        case "listed":
            return "read; lists only what the caller may read"
        case "result":
            return "read, on the object returned"
        case "instance":
            return f"{rule.permission} (instance admins only)"
        case _:
            return str(rule.permission)


def _allowed(rule: Rule, role: Role | None) -> bool:
    if rule.kind in ("authenticated", "listed"):
        return True
    principal = _principal(role)
    if rule.kind == "instance":
        return principal.may(rule.permission)
    return principal.may(rule.permission, _SCOPE)


def _row_key(rule: Rule) -> tuple[int, int]:
    return _KIND_ORDER[rule.kind], list(Permission).index(rule.permission)


def roles_table(declarations: Declarations) -> str:
    """The markdown table: one row per permission (and per way it is checked), the root
    fields that need it, and whether each role, then an instance admin, has it."""
    rows: dict[tuple[int, int], tuple[Rule, list[str]]] = {}
    for field, rule in declarations.fields.items():
        rows.setdefault(_row_key(rule), (rule, []))[1].append(field)
    columns: list[Role | None] = [*Role, None]
    lines = [
        "| needs | fields | " + " | ".join(_header(c) for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for key in sorted(rows):
        rule, fields = rows[key]
        cells = [_YES if _allowed(rule, column) else _NO for column in columns]
        lines.append(f"| {needs(rule)} | {_fields(fields)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _header(column: Role | None) -> str:
    return "instance admin" if column is None else str(column)


def _fields(fields: Iterable[str]) -> str:
    # Queries first, then mutations, each as declared; the names do not collide.
    ordered = sorted(fields, key=lambda f: not f.startswith("Query."))
    return ", ".join(f"`{f.partition('.')[2]}`" for f in ordered)


if __name__ == "__main__":
    from control_plane.graphql.schema import DECLARATIONS

    sys.stdout.write(roles_table(DECLARATIONS))
