"""A limit on introspection, which strawberry's depth limit skips (Hardening #12).

Introspection types refer to each other (`__Type.fields` → `__Field.type` → `__Type`), so
without a bound a few aliases nest into a response of hundreds of megabytes. The bound
counts, under `__schema` and `__type` with fragments expanded: the depth, the list fields
(`types`, `fields`, `args` ...) and the fields selected in all. The introspection query
of GraphiQL and graphql-core fits well within it.
"""

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules

MAX_DEPTH = 15
MAX_LIST_FIELDS = 12
MAX_FIELDS = 500

_ROOTS = frozenset({"__schema", "__type"})
_LISTS = frozenset(
    {"types", "directives", "fields", "args", "inputFields", "enumValues"}
    | {"interfaces", "possibleTypes"}
)


class _Budget:
    def __init__(self) -> None:
        self.fields = 0
        self.lists = 0
        self.exceeded: str | None = None


class _IntrospectionLimitRule(ValidationRule):
    def enter_field(self, node: FieldNode, *_: object) -> bool | None:
        if node.name.value not in _ROOTS or node.selection_set is None:
            return None
        budget = _Budget()
        self._walk(node.selection_set, 1, budget, frozenset())
        if budget.exceeded is not None:
            self.report_error(
                GraphQLError(
                    f"introspection {budget.exceeded}; ask for the schema once, "
                    "without aliases inside it",
                    node,
                    extensions={"code": "INVALID_INPUT", "field": "query"},
                )
            )
        # The selections under the root were walked here; nothing else needs them.
        return False

    def _walk(
        self,
        selections: SelectionSetNode,
        depth: int,
        budget: _Budget,
        fragments: frozenset[str],
    ) -> None:
        for selection in selections.selections:
            if budget.exceeded is not None:
                return
            if isinstance(selection, FieldNode):
                budget.fields += 1
                budget.lists += selection.name.value in _LISTS
                if depth > MAX_DEPTH:
                    budget.exceeded = f"deeper than {MAX_DEPTH} levels"
                elif budget.lists > MAX_LIST_FIELDS:
                    budget.exceeded = f"selects more than {MAX_LIST_FIELDS} list fields"
                elif budget.fields > MAX_FIELDS:
                    budget.exceeded = f"selects more than {MAX_FIELDS} fields"
                elif selection.selection_set is not None:
                    self._walk(selection.selection_set, depth + 1, budget, fragments)
            elif isinstance(selection, InlineFragmentNode):
                self._walk(selection.selection_set, depth, budget, fragments)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                # A cycle of fragments is reported by graphql-core's own rule.
                if fragment is not None and name not in fragments:
                    self._walk(fragment.selection_set, depth, budget, fragments | {name})


def introspection_limiter() -> AddValidationRules:
    return AddValidationRules([_IntrospectionLimitRule])
