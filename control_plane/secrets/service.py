"""Project secrets: each value is written to Vault and never kept, returned or logged
here; the registry keeps the name, the version Vault gave it and who set it.

Vault's errors are translated at this boundary: unreachable is `VaultUnavailableError`
(try again), a refusal of the control plane's AppRole or no Vault in the settings is a
`ConfigurationError` (the operator's to fix).
"""

import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import Project, Secret, new_id
from control_plane.db.rows import insert_if_missing
from control_plane.db.transaction import Transaction
from control_plane.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    VaultUnavailableError,
)
from control_plane.pagination import ListPage, page_of
from control_plane.workspaces.service import check_active, get_project
from data_plane.errors import SecretAccessDeniedError, SecretsUnavailableError, SettingsError
from data_plane.protocol import Vault, check_secret_name, secret_path

logger = logging.getLogger(__name__)

MAX_VALUE_BYTES = 64 * 1024
_NO_VAULT = (
    "secrets are kept in Vault, and this control plane has none: set "
    "FLOWFORGE_CP_VAULT__ADDRESS, FLOWFORGE_CP_VAULT__ROLE_ID and "
    "FLOWFORGE_CP_VAULT__SECRET_ID_PATH (docs/operations.md, Secrets)"
)


def require_vault(vault: Vault | None) -> Vault:
    if vault is None:
        raise ConfigurationError(_NO_VAULT)
    return vault


def check_name(name: str) -> str:
    try:
        return check_secret_name(name)
    except ValueError:
        # Not the check's own message: it repeats the name in full, whatever its length.
        shown = repr(name) if len(name) <= 128 else f"{name[:40]!r}... ({len(name)} characters)"
        raise InvalidInputError(
            f"name: {shown} is not a secret name: 1 to 128 letters, digits, '_', '.' and '-'",
            field="name",
        ) from None


def check_value(value: str) -> None:
    """Refuse an empty or oversized value; the message never shows the value."""
    if not value:
        raise InvalidInputError("value: empty; a secret needs a value", field="value")
    size = len(value.encode())
    if size > MAX_VALUE_BYTES:
        raise InvalidInputError(
            f"value: {size} bytes; a secret is at most {MAX_VALUE_BYTES} bytes (64 KiB)",
            field="value",
        )


async def set_secret(
    session: AsyncSession,
    vault: Vault | None,
    project_id: str,
    name: str,
    value: str,
    by: str,
    now: datetime,
) -> Secret:
    """Write `value` to Vault as the secret's next version and record that version.

    The row is locked before Vault is written, so that concurrent sets of one name
    record the versions in the order Vault gave them.

    Raises:
        InvalidInputError: a bad name or value, or an archived project.
        NotFoundError: no such project.
        ConfigurationError: no Vault in the settings, or Vault refuses the control plane.
        VaultUnavailableError: Vault cannot be reached (nothing is stored).
    """
    check_name(name)
    check_value(value)
    vault = require_vault(vault)
    project = await get_project(session, project_id)
    await check_active(session, project, "projectId", "secrets are set")
    row = await _locked_secret(session, project_id, name, by, now)
    path = secret_path(vault.settings.prefix, project.workspace_id, project.id, name)
    with _vault_errors(f"secret {name!r} was not set"):
        version, _ = await vault.write(path, value)
    row.version, row.set_by, row.updated_at = version, by, now
    await session.flush()
    logger.info(
        "secret %s of project %s set to version %d", name, project_id, version, extra={"by": by}
    )
    return row


async def delete_secret(
    transaction: Transaction, vault: Vault | None, project_id: str, name: str
) -> None:
    """Delete the secret's record now and every version in Vault once that commits.

    Raises:
        NotFoundError: the project has no secret of that name.
        ConfigurationError: no Vault in the settings.
    """
    vault = require_vault(vault)
    session = transaction.session
    row = await session.scalar(
        select(Secret).where(Secret.project_id == project_id, Secret.name == name)
    )
    if row is None:
        raise NotFoundError(f"project {project_id!r} has no secret named {name[:130]!r}")
    project = await session.get_one(Project, project_id)
    path = secret_path(vault.settings.prefix, project.workspace_id, project.id, name)
    await session.delete(row)
    await session.flush()

    async def forget() -> None:
        try:
            await vault.delete(path)
        except Exception:
            # No run can be granted it any more (the record is gone); its versions stay
            # in Vault until deleted by hand or overwritten by a set of the same name.
            logger.warning(
                "secret %s was deleted from the registry, but not from Vault: delete %s "
                "with `bao kv metadata delete`",
                name,
                path,
                exc_info=True,
            )

    transaction.after_commit(forget)


async def list_secrets(session: AsyncSession, project_id: str, page: ListPage) -> Sequence[Secret]:
    """A page of the project's secrets, by name."""
    query = select(Secret).where(Secret.project_id == project_id)
    order = (Secret.name, Secret.id)
    return await page_of(session, query, order, page, lambda id: Secret.id == id)


async def _locked_secret(
    session: AsyncSession, project_id: str, name: str, by: str, now: datetime
) -> Secret:
    """The secret's row, created (version 0, until Vault gives one) if missing, locked
    until the transaction ends."""
    await insert_if_missing(
        session,
        Secret,
        [Secret.project_id, Secret.name],
        id=new_id(),
        project_id=project_id,
        name=name,
        version=0,
        set_by=by,
        created_at=now,
        updated_at=now,
    )
    locked = await session.execute(
        select(Secret)
        .where(Secret.project_id == project_id, Secret.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return locked.scalar_one()


@contextlib.contextmanager
def _vault_errors(outcome: str) -> Iterator[None]:
    """Vault's errors as the client should read them; the details go to the log only."""
    try:
        yield
    except SecretsUnavailableError as exc:
        logger.warning("Vault is unavailable: %s", exc)
        raise VaultUnavailableError(
            f"Vault cannot be reached, try again: {outcome} and nothing was stored"
        ) from exc
    except (SecretAccessDeniedError, SettingsError) as exc:
        logger.error("Vault refused the control plane: %s", exc)
        raise ConfigurationError(
            f"Vault refused the control plane's AppRole: {outcome}. Check "
            "FLOWFORGE_CP_VAULT__ROLE_ID, the secret id file and the AppRole's policy "
            "(docs/operations.md, Secrets)"
        ) from exc
