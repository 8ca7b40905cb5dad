"""The cost of secrets fetched just in time and of the payload codec.

Runs two stacks, both with an OpenBao of their own (the planes log in with their AppRoles),
one with Temporal payloads in clear and one encrypted (AES-256-GCM), and on each, median of
`--repeat` runs, Temporal start-to-close:

- W1 (docs/benchmarks.md: 40 `bench.fibo` steps in a fused chain of local activities),
- W1 where every step maps a project secret: 40 reads from Vault per run, one per attempt,
  and the redaction of the step's output,
- one `bench.blob` node with a 200 KiB output (an activity on the task queue: the output
  travels inline in Temporal, so the codec encrypts and decrypts it), without and with a
  secret.

Then, in this process: one `Vault.read` with the pool's AppRole (p50 of `--samples`), and
the codec's encode and decode of one 200 KiB payload (p50 of `--samples`).

Ratios are against the same workload in the clear stack without secrets, measured in the
same run (times vary with the machine's load: compare the ratios).

Usage: python -m bench.secrets [--steps 40] [--repeat 7] [--samples 200]
"""

import argparse
import asyncio
import statistics
import time
from typing import Any

from temporalio.api.common.v1 import Payload

from bench.baseline import LocalActivityChainWorkflow, fibo_step
from bench.overhead import chain, flowforge_runs
from bench.stack import bench_stack
from data_plane.codec import AesGcmCodec, new_payload_keys
from data_plane.protocol import Vault, secret_path
from flowforge.inprocess import Stack

SECRET = "bench_key"
SET_SECRET = """mutation($p: ID!, $n: String!, $v: String!) {
  setSecret(projectId: $p, name: $n, value: $v) { __typename } }"""


def with_secret(definition: dict[str, Any]) -> dict[str, Any]:
    nodes = [{**node, "secrets": [SECRET]} for node in definition["nodes"]]
    return {**definition, "name": definition["name"] + "-secret", "nodes": nodes}


def blob() -> dict[str, Any]:
    node = {"id": "blob", "type": "bench.blob", "config": {"kb": 200}}
    return {"apiVersion": "flowforge/v1", "name": "blob-200k", "nodes": [node]}


async def workloads(stack: Stack, steps: int, repeat: int) -> dict[str, float]:
    data = await stack.data(SET_SECRET, p=await stack.project_id(), n=SECRET, v="s" * 40)
    assert data["setSecret"]["__typename"] == "Secret", data
    await flowforge_runs(stack, with_secret(chain(2)), 1)
    figures = {}
    for name, definition in (
        ("W1", chain(steps)),
        ("W1, a secret per step", with_secret(chain(steps))),
        ("200 KiB output", blob()),
        ("200 KiB output, a secret", with_secret(blob())),
    ):
        engine, _ = await flowforge_runs(stack, definition, repeat)
        figures[name] = statistics.median(engine)
    return figures


async def vault_read(stack: Stack, samples: int) -> float:
    settings = stack.dp_settings.vault
    assert settings is not None
    project = await stack.project_id()
    projects = (await stack.data("{ projects { id workspaceId } }"))["projects"]
    workspace = next(p["workspaceId"] for p in projects if p["id"] == project)
    vault = Vault(settings, "the bench pool")
    path = secret_path(settings.prefix, workspace, project, SECRET)
    try:
        await vault.read(path)
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            await vault.read(path)
            times.append(time.perf_counter() - began)
    finally:
        await vault.close()
    return statistics.median(times)


async def codec_costs(samples: int) -> tuple[float, float]:
    codec = AesGcmCodec(new_payload_keys())
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b"x" * 200 * 1024)
    encode, decode = [], []
    for _ in range(samples):
        began = time.perf_counter()
        sealed = await codec.encode([payload])
        encode.append(time.perf_counter() - began)
        began = time.perf_counter()
        await codec.decode(sealed)
        decode.append(time.perf_counter() - began)
    return statistics.median(encode), statistics.median(decode)


async def main(steps: int, repeat: int, samples: int) -> None:
    baselines = ([LocalActivityChainWorkflow], [fibo_step])
    async with bench_stack(*baselines, vault=True) as stack:
        clear = await workloads(stack, steps, repeat)
        read = await vault_read(stack, samples)
    async with bench_stack(*baselines, vault=True, encrypt_payloads=True) as stack:
        encrypted = await workloads(stack, steps, repeat)
    encode, decode = await codec_costs(samples)
    print(f"Temporal start-to-close, median of {repeat} runs ({steps} steps in W1):")
    print(f"  {'workload':<28} {'clear':>10} {'encrypted':>10}   ratios to clear, no secret")
    references = {name: clear[name.split(",")[0]] for name in clear}
    for name in clear:
        reference = references[name]
        print(
            f"  {name:<28} {clear[name] * 1000:8.1f}ms {encrypted[name] * 1000:8.1f}ms"
            f"   {clear[name] / reference:5.2f} {encrypted[name] / reference:5.2f}"
        )
    print(f"One Vault read with the pool's AppRole, p50 of {samples}: {read * 1000:.2f} ms")
    print(
        f"Codec on one 200 KiB payload, p50 of {samples}: encode {encode * 1000:.2f} ms, "
        f"decode {decode * 1000:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.repeat, args.samples))
