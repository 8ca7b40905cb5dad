"""Union members that tell why a mutation did nothing, shared by the domains' results
(`ValidationFailed`, with its issues, is `workflows/types.py`'s)."""

import strawberry


@strawberry.type(description="Nothing has the id the mutation was given; nothing was stored.")
class NotFound:
    message: str
