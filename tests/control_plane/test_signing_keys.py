"""The descriptor-signing key may live in Vault's transit engine: the control plane signs
through the transit API, each key version has its own key id, and pools trusting the old
and the new version accept both during a rotation."""

import base64
import uuid
from pathlib import Path

import hvac
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from control_plane.signing import TransitSigner, public_key_pem
from data_plane.errors import DescriptorRejectedError, SecretAccessDeniedError
from data_plane.protocol import Vault, key_id_of, seal, verify_descriptor
from flowforge.inprocess import running_stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from flowforge.vault_identities import VaultAuthority

from fixtures.descriptors import make_descriptor
from fixtures.servers import VaultServer


@pytest.fixture
def transit_key(vault_server: VaultServer) -> str:
    root = hvac.Client(url=vault_server.address, token=vault_server.root_token)
    if "transit/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("transit")
    name = f"signer-{uuid.uuid4().hex[:8]}"
    root.secrets.transit.create_key(name=name, key_type="ed25519")
    return name


def rotate(vault_server: VaultServer, name: str) -> None:
    hvac.Client(url=vault_server.address, token=vault_server.root_token).secrets.transit.rotate_key(
        name=name
    )


def trusted(*keys: Ed25519PublicKey) -> dict[str, Ed25519PublicKey]:
    return {key_id_of(key): key for key in keys}


async def test_descriptors_signed_in_vault_verify_across_a_rotation(
    vault_server: VaultServer, vault_authority: VaultAuthority, transit_key: str
) -> None:
    vault = Vault(vault_authority.control_plane(transit_key), "the control plane")
    try:
        first = await TransitSigner.load(vault, transit_key)
        signed_before = await seal(make_descriptor(), first)
        rotate(vault_server, transit_key)
        second = await TransitSigner.load(vault, transit_key)
        signed_after = await seal(make_descriptor(), second)
        publics = await vault.transit_public_keys(transit_key)
    finally:
        await vault.close()
    old, new = (Ed25519PublicKey.from_public_bytes(publics[v]) for v in (1, 2))
    assert (first.key_id, second.key_id) == (key_id_of(old), key_id_of(new))

    # During the overlap a pool trusts both versions and accepts either signature.
    for envelope in (signed_before, signed_after):
        verify_descriptor(envelope, trusted(old, new))
    # Once the old version is no longer trusted, what it signed is refused by key id.
    with pytest.raises(DescriptorRejectedError) as refused:
        verify_descriptor(signed_before, trusted(new))
    assert refused.value.code == "unknown_key" and first.key_id in str(refused.value)
    # What a pool's trusted key file holds is the same key.
    pem = load_pem_public_key(public_key_pem(publics[2]))
    assert isinstance(pem, Ed25519PublicKey) and key_id_of(pem) == second.key_id


async def test_the_control_planes_approle_signs_only_with_its_own_transit_key(
    vault_authority: VaultAuthority, transit_key: str, vault_server: VaultServer
) -> None:
    root = hvac.Client(url=vault_server.address, token=vault_server.root_token)
    other = f"other-{uuid.uuid4().hex[:8]}"
    root.secrets.transit.create_key(name=other, key_type="ed25519")
    vault = Vault(vault_authority.control_plane(transit_key), "the control plane")
    try:
        with pytest.raises(SecretAccessDeniedError, match="refused the control plane"):
            await vault.transit_sign(other, 1, b"payload")
    finally:
        await vault.close()


async def test_a_stack_whose_control_plane_signs_in_vault_runs_what_it_dispatches(
    vault_server: VaultServer,
    vault_authority: VaultAuthority,
    transit_key: str,
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
) -> None:
    root = hvac.Client(url=vault_server.address, token=vault_server.root_token)
    public = root.secrets.transit.read_key(name=transit_key)["data"]["keys"]["1"]["public_key"]
    trusted_pem = tmp_path / "transit.pub.pem"
    trusted_pem.write_bytes(public_key_pem(base64.b64decode(public)))
    async with running_stack(
        sqlite_url,
        temporal_server,
        nats_server,
        tmp_path,
        bus_authority,
        control_plane_options={"signing_transit_key": transit_key},
        data_plane_options={"trusted_keys": [trusted_pem]},
        vault=vault_authority,
    ) as stack:
        flow = {
            "apiVersion": "flowforge/v1",
            "name": "signed-in-vault",
            "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"a": 1}}}],
        }
        run = await stack.run_to_end(flow)
    assert run["status"] == "SUCCEEDED", run
    # No PEM key was made: the only signing key is Vault's.
    assert not (tmp_path / "signing-key.pem").exists()
