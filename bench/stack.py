"""The stack every benchmark measures on: its own Temporal dev server and NATS in a
temporary directory, the control plane in its own process (as in production), the data
plane in this one with the `bench.fibo` node installed, and a worker for the hand-written
baselines on `BASELINE_QUEUE`."""

import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from bench.fibo_node import Fibo
from connectors_sdk import NodeRegistry
from flowforge.inprocess import Stack, running_stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import free_port, start_nats, start_temporal

BASELINE_QUEUE = "bench-baseline"


@contextlib.asynccontextmanager
async def bench_stack(
    baseline_workflows: Sequence[type],
    baseline_activities: Sequence[Callable[..., Any]],
    control_plane_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """`control_plane_options`: further control-plane settings (e.g. `policy_paths`)."""
    with tempfile.TemporaryDirectory(prefix="flowforge-bench-") as tmp:
        data = Path(tmp)
        authority = BusAuthority.load_or_create(data / "nats-accounts")
        with (
            start_temporal(data / "temporal", free_port()) as temporal,
            start_nats(data / "nats", free_port(), authority) as nats,
        ):
            registry = NodeRegistry.from_entry_points()
            registry.register(Fibo)
            async with (
                running_stack(
                    f"sqlite+aiosqlite:///{data / 'registry.db'}",
                    temporal,
                    nats,
                    data,
                    authority,
                    registry,
                    control_plane_command=[sys.executable, "-m", "bench.serve_control_plane"],
                    control_plane_options=control_plane_options,
                ) as stack,
                Worker(
                    stack.temporal,
                    task_queue=BASELINE_QUEUE,
                    workflows=list(baseline_workflows),
                    activities=list(baseline_activities),
                ),
            ):
                yield stack
