"""`Transaction`: the seam every mutation's writes go through."""

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)


class Transaction:
    """A mutation's unit of work: its session, and what to do once it committed (publish
    to NATS, which must never announce what a rollback would undo)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(action)

    async def run_after_commit(self) -> None:
        for action in self._after_commit:
            try:
                await action()
            except Exception:
                # Committed work stands; what failed here is retried by its own sweep.
                logger.exception("an action after commit failed")
