"""cancelRun, pauseRun and resumeRun through the API, with no data plane: what each refuses,
what it records and publishes, and what becomes of a request nobody takes."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy import select

from control_plane.db.models import ApiToken, ControlRequest, Run
from control_plane.runs import control
from control_plane.settings import ControlPlaneSettings
from control_plane.signing import load_or_create_signing_key
from data_plane.protocol import (
    CONTROL_PLANE_INBOX,
    ControlMessage,
    RunEvent,
    control_subject,
    key_id_of,
    verify_control,
)
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.api import Api, serving_api
from fixtures.bus import messages_on
from fixtures.stack import assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "controlled",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}
REQUEST = """
  __typename
  ... on ControlRequest { id runId action compensate status reason requestedBy requestedAt
                          expiresAt dispatchedAt settledAt }
  ... on NotFound { message }
  ... on ValidationFailed { errors { field message } }
"""
CANCEL = f"mutation($id: ID!, $c: Boolean!) {{ cancelRun(id: $id, compensate: $c) {{{REQUEST}}} }}"
PAUSE = f"mutation($id: ID!) {{ pauseRun(id: $id) {{ {REQUEST} }} }}"
RESUME = f"mutation($id: ID!) {{ resumeRun(id: $id) {{ {REQUEST} }} }}"
REQUESTS = """query($id: ID!) { run(id: $id) { status controlRequests {
  id action compensate status reason dispatchedAt settledAt } } }"""


@pytest.fixture
async def bus(nats_server: ServerProcess, bus_authority: BusAuthority) -> AsyncIterator[NatsClient]:
    """A connection with the control plane's credentials, to read what it published."""
    nc = await nats.connect(
        nats_server.address,
        user_credentials=str(bus_authority.control_plane_credentials()),
        inbox_prefix=CONTROL_PLANE_INBOX,
        drain_timeout=2,
    )
    try:
        yield nc
    finally:
        await nc.close()


async def published(nc: NatsClient, pool: str) -> list[Msg]:
    """Every control message published for `pool`, oldest first."""
    return await messages_on(nc, control_subject(pool))


def verified(api: Api, message: Msg) -> ControlMessage:
    """The control message, checked as an agent of the pool checks it."""
    key = load_or_create_signing_key(api.settings.signing_key_path).public_key()
    return verify_control(message.data, {key_id_of(key): key}, api.pool)


async def run_in(api: Api, status: str = "RUNNING") -> str:
    run_id = await api.queued_run(await api.publish(FLOW))
    async with api.sessions.begin() as session:
        (await session.get_one(Run, run_id)).status = status
    return run_id


async def ask(api: Api, operation: str, run_id: str, **variables: Any) -> dict[str, Any]:
    data = await api.data(operation, id=run_id, **variables)
    [result] = data.values()
    return dict(result)


async def requests_of(api: Api, run_id: str) -> list[dict[str, Any]]:
    return list((await api.data(REQUESTS, id=run_id))["run"]["controlRequests"])


async def test_a_pause_is_recorded_and_published_signed_under_its_id(
    api: Api, bus: NatsClient
) -> None:
    await api.ready()
    run_id = await run_in(api)

    request = await ask(api, PAUSE, run_id)

    assert request["__typename"] == "ControlRequest"
    assert (request["runId"], request["action"], request["status"]) == (run_id, "PAUSE", "PENDING")
    requested = datetime.fromisoformat(request["requestedAt"])
    assert datetime.fromisoformat(request["expiresAt"]) - requested == timedelta(hours=24)
    async with api.sessions() as session:
        token = await session.scalar(select(ApiToken.id).where(ApiToken.name == "admin"))
    assert request["requestedBy"] == f"token:{token}"
    [message] = await assert_eventually(lambda: published(bus, api.pool))
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == request["id"]
    signed = verified(api, message)
    assert (signed.control_id, signed.run_id, signed.action) == (request["id"], run_id, "pause")
    assert signed.expires_at == datetime.fromisoformat(request["expiresAt"])
    [listed] = await requests_of(api, run_id)
    assert listed["id"] == request["id"]
    assert listed["dispatchedAt"] is not None


async def test_a_cancel_with_compensation_says_so_in_its_message(api: Api, bus: NatsClient) -> None:
    await api.ready()
    run_id = await run_in(api, "PAUSED")

    request = await ask(api, CANCEL, run_id, c=True)

    assert (request["action"], request["compensate"]) == ("CANCEL", True)
    [message] = await assert_eventually(lambda: published(bus, api.pool))
    assert (verified(api, message).action, verified(api, message).compensate) == ("cancel", True)


async def test_a_control_request_for_an_unknown_run_is_not_found(api: Api) -> None:
    result = await ask(api, RESUME, "no-such-run")

    assert result == {
        "__typename": "NotFound",
        "message": "run 'no-such-run' does not exist",
    }


@pytest.mark.parametrize(
    ("status", "operation", "variables", "reason"),
    [
        ("RUNNING", RESUME, {}, "it is RUNNING, not PAUSED: only a paused run resumes"),
        ("PAUSED", PAUSE, {}, "it is already paused; resume it with resumeRun"),
        ("SUCCEEDED", CANCEL, {"c": False}, "it has already ended (SUCCEEDED)"),
        ("FAILED", PAUSE, {}, "it has already ended (FAILED)"),
        ("CANCELLING", CANCEL, {"c": True}, "it is being cancelled (CANCELLING)"),
        ("COMPENSATING", RESUME, {}, "it is being cancelled (COMPENSATING)"),
    ],
)
async def test_an_action_that_does_not_fit_the_run_is_refused_with_the_reason(
    sqlite_api: Api, status: str, operation: str, variables: dict[str, Any], reason: str
) -> None:
    run_id = await run_in(sqlite_api, status)

    result = await ask(sqlite_api, operation, run_id, **variables)

    assert result["__typename"] == "ValidationFailed"
    [issue] = result["errors"]
    assert issue["field"] == "id"
    assert issue["message"].endswith(reason)
    assert run_id in issue["message"]
    assert await requests_of(sqlite_api, run_id) == []


async def test_the_same_action_is_refused_while_the_first_is_pending(api: Api) -> None:
    run_id = await run_in(api)
    first = await ask(api, CANCEL, run_id, c=False)

    again = await ask(api, CANCEL, run_id, c=True)

    assert again["__typename"] == "ValidationFailed"
    assert "has not been answered yet" in again["errors"][0]["message"]
    assert [r["id"] for r in await requests_of(api, run_id)] == [first["id"]]


async def test_a_request_whose_publish_never_happened_is_published_by_the_sweep(
    api: Api, bus: NatsClient
) -> None:
    run_id = await run_in(api)
    # Committed as the mutation commits it, then the process died before publishing.
    async with api.sessions.begin() as session:
        request = await control.request_control(
            session,
            run_id,
            "pause",
            False,
            "api-token",
            datetime.now(UTC),
            timedelta(hours=1),
        )

    [message] = await assert_eventually(lambda: published(bus, api.pool), within=30)
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == request.id

    async def dispatched() -> bool:
        [row] = await requests_of(api, run_id)
        return row["dispatchedAt"] is not None and row["status"] == "PENDING"

    await assert_eventually(dispatched)


async def test_a_request_no_data_plane_takes_before_its_expiry_shows_undelivered(
    database_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
) -> None:
    async with serving_api(
        database_url, nats_server, bus_authority, tmp_path, control_ttl_seconds=1.0
    ) as api:
        run_id = await run_in(api)
        request = await ask(api, PAUSE, run_id)

        async def undelivered() -> dict[str, Any] | None:
            [row] = await requests_of(api, run_id)
            return row if row["status"] == "UNDELIVERED" else None

        row = await assert_eventually(undelivered)
        # Late news that it was delivered in time (the planes' clocks differ) still counts.
        late = RunEvent.create(run_id, "control.applied", datetime.now(UTC), control_id=row["id"])
        await api.apply([late])
        [corrected] = await requests_of(api, run_id)

    assert request["id"] == row["id"]
    assert "did not take it before it expired" in row["reason"]
    assert "FLOWFORGE_CP_CONTROL_TTL_SECONDS" in row["reason"]
    assert row["settledAt"] is not None
    assert (corrected["status"], corrected["reason"]) == ("APPLIED", None)


async def test_the_data_plane_reports_settle_a_request_once(api: Api) -> None:
    run_id = await run_in(api, "PAUSED")
    applied = await ask(api, RESUME, run_id)
    refused = await ask(api, CANCEL, run_id, c=False)
    now = datetime.now(UTC)

    def report(kind: Any, control_id: str, error: str | None = None) -> RunEvent:
        return RunEvent.create(run_id, kind, now, control_id=control_id, error=error)

    await api.apply([report("control.applied", applied["id"])])
    await api.apply(
        [
            report("control.refused", refused["id"], "the run refused its cancel: not now"),
            # Late or repeated news changes nothing once a request is settled.
            report("control.refused", applied["id"], "replayed"),
            report("control.applied", refused["id"]),
        ]
    )
    await api.apply([report("control.applied", applied["id"])])

    rows = {r["id"]: r for r in await requests_of(api, run_id)}
    assert (rows[applied["id"]]["status"], rows[applied["id"]]["reason"]) == ("APPLIED", None)
    assert rows[refused["id"]]["status"] == "REFUSED"
    assert rows[refused["id"]]["reason"] == "the run refused its cancel: not now"
    assert all(r["settledAt"] is not None for r in rows.values())
    # A report moves no run status: only the run's own events do.
    assert (await api.data(REQUESTS, id=run_id))["run"]["status"] == "PAUSED"


async def test_a_report_about_a_request_of_another_run_is_ignored(sqlite_api: Api) -> None:
    mine, other = await run_in(sqlite_api), await run_in(sqlite_api)
    request = await ask(sqlite_api, PAUSE, other)

    await sqlite_api.apply(
        [RunEvent.create(mine, "control.applied", datetime.now(UTC), control_id=request["id"])]
    )

    async with sqlite_api.sessions() as session:
        row = await session.get_one(ControlRequest, request["id"])
    assert row.status == "PENDING"


async def test_control_requests_are_listed_oldest_first_for_each_run(sqlite_api: Api) -> None:
    first, second = await run_in(sqlite_api, "PAUSED"), await run_in(sqlite_api)
    resumed = await ask(sqlite_api, RESUME, first)
    cancelled = await ask(sqlite_api, CANCEL, first, c=False)
    paused = await ask(sqlite_api, PAUSE, second)

    data = await sqlite_api.data(
        "query($a: ID!, $b: ID!) { a: run(id: $a) { controlRequests { id } } "
        "b: run(id: $b) { controlRequests { id } } }",
        a=first,
        b=second,
    )

    assert [r["id"] for r in data["a"]["controlRequests"]] == [resumed["id"], cancelled["id"]]
    assert [r["id"] for r in data["b"]["controlRequests"]] == [paused["id"]]
    assert uuid.UUID(paused["id"])


def test_a_control_expiry_longer_than_the_control_stream_keeps_messages_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        ControlPlaneSettings(control_ttl_seconds=8 * 24 * 3600.0)

    [error] = info.value.errors()
    assert error["loc"] == ("control_ttl_seconds",)
    assert "604800" in error["msg"]
