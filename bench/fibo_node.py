"""`bench.fibo`: a lightweight node computing naive recursive fibo(n)."""

import time

from pydantic import BaseModel

from bench.baseline import STARTS, fibo
from connectors_sdk import AnyObject, Node, NodeContext


class Fibo(Node):
    """Computes fibo(n) the slow way: a small, CPU-only step."""

    type = "bench.fibo"
    lightweight = True

    class Config(BaseModel):
        n: int = 10

    class Output(BaseModel):
        value: int

    async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> Output:
        STARTS.setdefault(ctx.run_id, time.perf_counter())
        return self.Output(value=fibo(config.n))
