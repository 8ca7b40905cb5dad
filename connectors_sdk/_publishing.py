"""Config checks that only validation makes (at publish, and when a pool takes a run):
values a definition may no longer hold, though versions published before may.

`validate_definition` validates node configs with `PUBLISH_CONTEXT` as pydantic's
validation context, and a config validator refuses such a value only when
`at_publish(info)`. The interpreter validates a node's config again when the node runs,
inside the workflow, so again on every replay of a run's history: a check made there
would fail a run in flight whose history holds the value, with an outcome other than the
one recorded, and the run would stop on a nondeterminism error.
"""

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import ValidationInfo

_KEY = "connectors_sdk.at_publish"

PUBLISH_CONTEXT: Mapping[str, bool] = MappingProxyType({_KEY: True})


def at_publish(info: ValidationInfo) -> bool:
    """Whether a validator runs for `validate_definition`, not for a running node."""
    return isinstance(info.context, Mapping) and info.context.get(_KEY) is True
