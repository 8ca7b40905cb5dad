"""`bench.blob`: a node whose output is `kb` kilobytes of text (a large payload)."""

from pydantic import BaseModel

from connectors_sdk import AnyObject, Node, NodeContext


class Blob(Node):
    """Outputs `kb` KiB of text."""

    type = "bench.blob"

    class Config(BaseModel):
        kb: int = 200

    class Output(BaseModel):
        data: str

    async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> Output:
        return self.Output(data="x" * (config.kb * 1024))
