"""`NodeRegistry`: the node types a process knows, by type name.

Node packages declare their classes as entry points in the `flowforge.nodes` group, named
by node type::

    [project.entry-points."flowforge.nodes"]
    "acme.fetch" = "acme_nodes.fetch:Fetch"

There is no global registry: a process builds one (`default_registry()`) and passes it on.
"""

from importlib.metadata import entry_points

from connectors_sdk._errors import ConnectorError
from connectors_sdk._node import Node

ENTRY_POINT_GROUP = "flowforge.nodes"


class NodeRegistry:
    """A set of node classes, by type name."""

    def __init__(self) -> None:
        self._nodes: dict[str, type[Node]] = {}

    def register(self, cls: type[Node]) -> type[Node]:
        """Add a node class; registering the same class twice is harmless.

        Args:
            cls: A concrete `Node` subclass.

        Returns:
            `cls`, so that `register` can decorate a class.

        Raises:
            ConnectorError: `cls` is not a concrete node class (code "bad_node_class"),
                or another class already has its type (code "duplicate_node_type").
        """
        if not (isinstance(cls, type) and issubclass(cls, Node)) or "type" not in cls.__dict__:
            raise ConnectorError(
                f"{cls!r} is not a node class: register a Node subclass that declares `type`",
                code="bad_node_class",
            )
        existing = self._nodes.get(cls.type)
        if existing is not None and existing is not cls:
            raise ConnectorError(
                f"node type {cls.type!r} is provided by both {_qualname(existing)} and "
                f"{_qualname(cls)}; uninstall one or rename its type",
                code="duplicate_node_type",
            )
        self._nodes[cls.type] = cls
        return cls

    def get(self, node_type: str) -> type[Node]:
        """Return the class of a node type.

        Raises:
            ConnectorError: Code "unknown_node_type"; the message lists the known types.
        """
        try:
            return self._nodes[node_type]
        except KeyError:
            raise ConnectorError(
                f"unknown node type {node_type!r}; known types: {self._known_types()}. "
                "Install the package that provides it",
                code="unknown_node_type",
            ) from None

    def __contains__(self, node_type: object) -> bool:
        return node_type in self._nodes

    def types(self) -> list[type[Node]]:
        """Return the registered node classes, sorted by type name."""
        return [self._nodes[name] for name in sorted(self._nodes)]

    def _known_types(self) -> str:
        """The registered type names, comma-separated, for messages."""
        return ", ".join(sorted(self._nodes)) or "(none)"

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> "NodeRegistry":
        """Build a registry from the installed entry points of a group.

        Args:
            group: The entry point group.

        Raises:
            ConnectorError: Code "bad_entry_point" when an entry point does not load, is
                not a node class, or is named differently from its class's type; code
                "duplicate_node_type" when two classes declare the same type.
        """
        registry = cls()
        for entry_point in entry_points(group=group):
            where = f"entry point {entry_point.name!r} ({entry_point.value}) in group {group!r}"
            try:
                loaded = entry_point.load()
            except Exception as exc:
                raise ConnectorError(
                    f"{where} does not load: {type(exc).__name__}: {exc}", code="bad_entry_point"
                ) from exc
            if not (isinstance(loaded, type) and issubclass(loaded, Node)):
                raise ConnectorError(
                    f"{where} is {loaded!r}, not a Node subclass", code="bad_entry_point"
                )
            if loaded.type != entry_point.name:
                raise ConnectorError(
                    f"{where} names the class of type {loaded.type!r}; name the entry point "
                    "after the node type",
                    code="bad_entry_point",
                )
            registry.register(loaded)
        return registry


def default_registry() -> NodeRegistry:
    """Build a registry of the installed node types (group `flowforge.nodes`).

    Not cached: call it once at start and pass the registry to what needs it.
    """
    return NodeRegistry.from_entry_points()


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
