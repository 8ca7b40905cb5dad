"""Credentials follow the permissions of their role, across upgrades."""

import base64
import json
from pathlib import Path

from data_plane.protocol import Permissions, pool_permissions
from flowforge.nats_accounts import BusAuthority, pool_identity


def allowed_publish(credentials: Path) -> list[str]:
    jwt = credentials.read_text().splitlines()[1]
    body = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return list(claims["nats"]["pub"]["allow"])


def test_credentials_issued_with_other_permissions_are_issued_again(tmp_path: Path) -> None:
    authority = BusAuthority.load_or_create(tmp_path)
    # As a release before the artefact store issued them.
    older = Permissions(publish=("ff.events.onprem",), subscribe=("_FF_INBOX.pool.onprem.>",))
    authority.credentials(pool_identity("onprem"), older)

    upgraded = authority.pool_credentials("onprem").read_text()
    again = authority.pool_credentials("onprem").read_text()

    assert allowed_publish(authority.pool_credentials("onprem")) == list(
        pool_permissions("onprem").publish
    )
    assert "$O.FF_ARTEFACTS.C.>" in allowed_publish(authority.pool_credentials("onprem"))
    assert again == upgraded  # unchanged permissions: the same credentials


def test_credentials_for_another_bucket_allow_that_bucket_only(tmp_path: Path) -> None:
    authority = BusAuthority.load_or_create(tmp_path)

    subjects = allowed_publish(authority.pool_credentials("onprem", "BLOBS"))

    assert "$O.BLOBS.M.>" in subjects
    assert "$JS.API.STREAM.MSG.GET.OBJ_BLOBS" in subjects
    assert not any("FF_ARTEFACTS" in subject for subject in subjects)
