import builtins

import strawberry
from strawberry.scalars import JSON

from connectors_sdk import Node, ports_depend_on_config


@strawberry.type(description="An installed node type with the JSON Schemas of its ports.")
class NodeType:
    type: str
    version: int
    title: str
    description: str
    ports: list[str] = strawberry.field(
        description="The output ports edges from the node name; [] for a node without "
        "ports, and for one whose ports come from its config (see portsFromConfig)."
    )
    ports_from_config: bool = strawberry.field(
        description="The ports are named in each node's config (core.switch: its cases' "
        "ports and its default), so `ports` cannot list them."
    )
    pure: bool
    lightweight: bool
    has_body: bool = strawberry.field(
        description="The node runs a body, a sub-graph of nodes given in the definition's "
        "`body`, per item or iteration (core.map, core.loop)."
    )
    input_schema: JSON
    output_schema: JSON
    config_schema: JSON

    @classmethod
    def from_class(cls, node_cls: builtins.type[Node]) -> "NodeType":
        schemas = node_cls.schemas()
        return cls(
            type=node_cls.type,
            version=node_cls.version,
            title=node_cls.title,
            description=node_cls.description,
            ports=list(node_cls.ports),
            ports_from_config=ports_depend_on_config(node_cls),
            pure=node_cls.pure,
            lightweight=node_cls.lightweight,
            has_body=node_cls.has_body,
            input_schema=JSON(schemas["input"]),
            output_schema=JSON(schemas["output"]),
            config_schema=JSON(schemas["config"]),
        )
