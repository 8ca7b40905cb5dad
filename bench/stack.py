"""The stack every benchmark measures on: its own Temporal dev server and NATS (and, when
asked, OpenBao) in a temporary directory, the control plane in its own process (as in
production), the data plane in this one with the bench nodes installed, and a worker for
the hand-written baselines on `BASELINE_QUEUE`."""

import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from bench.blob_node import Blob
from bench.fibo_node import Fibo
from connectors_sdk import NodeRegistry
from flowforge.inprocess import Stack, running_stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import free_port, start_nats, start_openbao, start_temporal
from flowforge.vault_identities import VaultAuthority

BASELINE_QUEUE = "bench-baseline"


@contextlib.asynccontextmanager
async def bench_stack(
    baseline_workflows: Sequence[type],
    baseline_activities: Sequence[Callable[..., Any]],
    control_plane_options: Mapping[str, Any] | None = None,
    vault: bool = False,
    encrypt_payloads: bool = False,
) -> AsyncIterator[Stack]:
    """`control_plane_options`: further control-plane settings (e.g. `policy_paths`);
    `vault`: both planes use an OpenBao of the stack's own with their AppRoles;
    `encrypt_payloads`: Temporal payloads are encrypted."""
    with (
        tempfile.TemporaryDirectory(prefix="flowforge-bench-") as tmp,
        contextlib.ExitStack() as servers,
    ):
        data = Path(tmp)
        authority = BusAuthority.load_or_create(data / "nats-accounts")
        temporal = servers.enter_context(start_temporal(data / "temporal", free_port()))
        nats = servers.enter_context(start_nats(data / "nats", free_port(), authority))
        identities = None
        if vault:
            bao, root_token = start_openbao(data / "openbao", free_port(span=2))
            servers.enter_context(bao)
            identities = VaultAuthority(bao.address, root_token, data / "vault-identities")
        registry = NodeRegistry.from_entry_points()
        registry.register(Fibo)
        registry.register(Blob)
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
                vault=identities,
                encrypt_payloads=encrypt_payloads,
            ) as stack,
            Worker(
                stack.temporal,
                task_queue=BASELINE_QUEUE,
                workflows=list(baseline_workflows),
                activities=list(baseline_activities),
            ),
        ):
            yield stack
