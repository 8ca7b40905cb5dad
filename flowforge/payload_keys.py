"""The payload key file of a stack: created with one new key on first start, then kept."""

from pathlib import Path

from data_plane.codec import PayloadKeys, load_payload_keys, new_payload_keys
from flowforge.private_files import write_private


def load_or_create_payload_keys(path: Path) -> PayloadKeys:
    if path.exists():
        return load_payload_keys(path)
    keys = new_payload_keys()
    write_private(path, keys.to_json())
    return keys
