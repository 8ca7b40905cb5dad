"""Turning control-plane errors into GraphQL errors that carry a `code` extension."""

import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from graphql import GraphQLError

from control_plane.errors import ControlPlaneError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def graphql_errors(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Map `ControlPlaneError` to a coded GraphQL error; mask anything unexpected."""

    @wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except ControlPlaneError as exc:
            raise GraphQLError(str(exc), extensions=exc.extensions()) from exc
        except GraphQLError:
            raise
        except Exception as exc:
            incident = uuid.uuid4().hex[:12]
            logger.exception("unexpected error (incident %s)", incident)
            raise GraphQLError(
                f"internal error (incident {incident}); see the control plane log",
                extensions={"code": "INTERNAL", "incident": incident},
            ) from exc

    return wrapper
