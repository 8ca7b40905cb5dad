"""Temporal payloads are encrypted: a run's history, read through Temporal's API without
the keys, holds no input, config or output in clear; with the keys it reads back, also
after the current key was rotated, and through the codec server Temporal's UI calls."""

import base64
import uuid

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client

from data_plane.codec import ENCODING, KEY_ID, AesGcmCodec, PayloadKeys, new_payload_keys
from data_plane.errors import PayloadKeyError
from flowforge.codec_server import create_codec_app

from fixtures.stack import Stack


async def test_a_runs_history_holds_no_input_config_or_output_in_clear(
    encrypted_stack: Stack,
) -> None:
    stack = encrypted_stack
    marker = f"clear-{uuid.uuid4().hex}"
    definition = {
        "apiVersion": "flowforge/v1",
        "name": "encrypted",
        "nodes": [
            {"id": "shape", "type": "core.transform", "config": {"value": {"c": marker + "c"}}},
            {"id": "count", "type": "test.count", "inputs": {"count": 41}},
        ],
        "edges": [{"from": "shape", "to": "count"}],
    }
    run = await stack.run_to_end(definition, {"i": marker + "i"})
    assert run["status"] == "SUCCEEDED", run

    blind = await Client.connect(stack.dp_settings.temporal_address)
    history = await blind.get_workflow_handle(run["id"]).fetch_history()
    raw = History(events=history.events).SerializeToString()
    assert marker.encode() not in raw
    # Encrypted, with the key named: nothing merely encoded another way.
    assert ENCODING in raw and KEY_ID.encode() in raw

    result = await stack.temporal.get_workflow_handle(run["id"]).result()
    assert result["status"] == "SUCCEEDED"


async def test_payloads_of_a_rotated_key_still_decrypt_while_it_is_listed() -> None:
    old = new_payload_keys("k1")
    sealed = await AesGcmCodec(old).encode([Payload(metadata={"a": b"1"}, data=b"secret")])
    rotated = PayloadKeys(current="k2", keys={**old.keys, **new_payload_keys("k2").keys})
    codec = AesGcmCodec(rotated)
    assert [p.data for p in await codec.decode(sealed)] == [b"secret"]
    assert (await codec.encode([Payload(data=b"x")]))[0].metadata[KEY_ID] == b"k2"
    # Once the old key is dropped, its payloads name the missing key.
    dropped = AesGcmCodec(PayloadKeys(current="k2", keys={"k2": rotated.keys["k2"]}))
    with pytest.raises(PayloadKeyError, match=r"'k1'.*add that key back"):
        await dropped.decode(sealed)


async def test_a_payload_relabelled_with_another_key_id_does_not_decrypt() -> None:
    key = new_payload_keys("k1").keys["k1"]
    keys = PayloadKeys(current="k1", keys={"k1": key, "k2": key})
    [sealed] = await AesGcmCodec(keys).encode([Payload(data=b"secret")])
    sealed.metadata[KEY_ID] = b"k2"
    with pytest.raises(PayloadKeyError, match="does not decrypt"):
        await AesGcmCodec(keys).decode([sealed])


def test_a_key_file_with_a_short_key_or_an_unlisted_current_is_refused() -> None:
    with pytest.raises(ValueError, match="'k1' is 3 bytes; AES-256 needs 32"):
        PayloadKeys.model_validate({"current": "k1", "keys": {"k1": "YWJj"}})
    with pytest.raises(ValueError, match="current key 'k9' is not among the keys"):
        PayloadKeys.model_validate(
            {"current": "k9", "keys": {"k1": base64.b64encode(b"k" * 32).decode()}}
        )


async def test_the_codec_server_decodes_what_the_codec_encoded_for_the_temporal_ui() -> None:
    keys = new_payload_keys()
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a":1}')
    [sealed] = await AesGcmCodec(keys).encode([clear])
    app = create_codec_app(keys, ["http://127.0.0.1:8233"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        body = json_format.MessageToJson(Payloads(payloads=[sealed]))
        answer = await client.post(
            "/decode",
            content=body,
            headers={"Origin": "http://127.0.0.1:8233", "X-Namespace": "default"},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        [plain] = json_format.Parse(answer.text, Payloads()).payloads
        assert (plain.metadata["encoding"], plain.data) == (b"json/plain", b'{"a":1}')
        other = await AesGcmCodec(new_payload_keys("k9")).encode([Payload(data=b"x")])
        refused = await client.post(
            "/decode", content=json_format.MessageToJson(Payloads(payloads=other))
        )
        assert refused.status_code == 422 and "'k9'" in refused.json()["error"]
        garbage = await client.post("/decode", content=b"not json")
        assert garbage.status_code == 400
