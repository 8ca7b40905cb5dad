import builtins

import strawberry
from strawberry.scalars import JSON

from connectors_sdk import Node


@strawberry.type(description="An installed node type with the JSON Schemas of its ports.")
class NodeType:
    type: str
    version: int
    title: str
    description: str
    ports: list[str]
    pure: bool
    lightweight: bool
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
            pure=node_cls.pure,
            lightweight=node_cls.lightweight,
            input_schema=JSON(schemas["input"]),
            output_schema=JSON(schemas["output"]),
            config_schema=JSON(schemas["config"]),
        )
