"""Secrets at the data plane: fetched from Vault for one attempt of one node, handed to it
as `SecretStr`, and redacted from everything that leaves the attempt.

Invariants:

- a node gets exactly the secrets its definition maps, and only those its run's
  descriptor grants (the signed list of names);
- values are fetched just in time, held in memory for the attempt only, and never written
  to disk, to Temporal (inputs and results carry names), to events or to logs;
- every value fetched is known to the process's `KnownSecrets` while its attempt runs: the
  node's output, its error and every log record of the process are searched for it and it
  is replaced by `REDACTED`. Only values as they were fetched are recognised: a node that
  encodes one (base64, reversed) defeats redaction, as it could send it anywhere else.
"""

import collections
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import SecretStr

from data_plane.errors import SecretError
from data_plane.messages import SecretGrants
from data_plane.protocol import Vault, secret_path

REDACTED = "[redacted]"
# Shorter values are not redacted: replacing every "on" or "1" in a node's output would
# destroy it and hide nothing worth hiding. Keep secrets long.
MIN_REDACTED_LENGTH = 4


class SecretNotGrantedError(SecretError):
    code = "SecretNotGranted"


class KnownSecrets:
    """The secret values the process holds now (one count per attempt holding each)."""

    def __init__(self) -> None:
        self._counts: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def holding(self, values: list[str]) -> Iterator[None]:
        values = [value for value in values if len(value) >= MIN_REDACTED_LENGTH]
        self._counts.update(values)
        try:
            yield
        finally:
            self._counts.subtract(values)
            for value in values:
                if self._counts[value] <= 0:
                    del self._counts[value]

    def redact_text(self, text: str) -> str:
        # Longest first: a value containing another is replaced whole.
        for value in sorted(self._counts, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def redact(self, value: Any) -> Any:
        """`value` (JSON data) with every known secret replaced, in keys and strings."""
        if not self._counts:
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {self.redact_text(str(k)): self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(item) for item in value]
        return value


class RedactingFilter(logging.Filter):
    """Replaces known secret values in a record's message and traceback, for every handler
    it is added to."""

    def __init__(self, known: KnownSecrets) -> None:
        super().__init__()
        self._known = known
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._known.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._known.redact_text(record.exc_text)
        return True


@contextlib.contextmanager
def redacting_logs(known: KnownSecrets) -> Iterator[None]:
    """Redact known secrets from every record the root logger's handlers write while
    inside: a value must not reach a log through any logger, the node's own or a
    library's."""
    log_filter = RedactingFilter(known)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(log_filter)


async def fetch_secrets(
    vault: Vault | None,
    grants: SecretGrants | None,
    names: Mapping[str, str],
    node_id: str,
    held: dict[str, SecretStr] | None = None,
) -> dict[str, SecretStr]:
    """Read the secrets a node maps (name it sees -> project secret name) from Vault,
    returned by the name the node sees. `held` (by project secret name) keeps what one
    activity attempt read already: the steps of a chain, one attempt, read each once.

    Raises:
        SecretNotGrantedError: a name the run's descriptor does not grant, or a data plane
            without Vault.
        SecretError: Vault refused or failed (see `data_plane.protocol.Vault.read`).
    """
    if not names:
        return {}
    granted = set(grants.names) if grants is not None else set()
    refused = sorted(name for name in names.values() if name not in granted)
    if refused:
        raise SecretNotGrantedError(
            f"node {node_id!r} maps secrets its run was not granted: {', '.join(refused)}; "
            "publish the workflow again so that its runs are granted them"
        )
    if vault is None:
        raise SecretNotGrantedError(
            f"node {node_id!r} needs secrets but this data plane has no Vault: set "
            "FLOWFORGE_DP_VAULT__ADDRESS, __ROLE_ID and __SECRET_ID_PATH"
        )
    assert grants is not None
    held = {} if held is None else held
    for name in dict.fromkeys(names.values()):
        if name not in held:
            path = secret_path(vault.settings.prefix, grants.workspace_id, grants.project_id, name)
            held[name] = SecretStr((await vault.read(path)).value)
    return {seen: held[name] for seen, name in names.items()}
