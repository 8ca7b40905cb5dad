"""The GraphQL schema, composed from each domain's Query and Mutation."""

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types

from control_plane.graphql.introspection import introspection_limiter
from control_plane.nodes.queries import Query as NodeQuery
from control_plane.runs.mutations import Mutation as RunMutation
from control_plane.runs.queries import Query as RunQuery
from control_plane.tasks.mutations import Mutation as TaskMutation
from control_plane.tasks.queries import Query as TaskQuery
from control_plane.workflows.mutations import Mutation as WorkflowMutation
from control_plane.workflows.queries import Query as WorkflowQuery
from control_plane.workspaces.queries import Query as WorkspaceQuery

Query = merge_types("Query", (WorkspaceQuery, WorkflowQuery, RunQuery, NodeQuery, TaskQuery))
Mutation = merge_types("Mutation", (WorkflowMutation, RunMutation, TaskMutation))

# Limits that keep one request from costing the server much; far above what the builder,
# the CLI or any sensible client sends.
LIMITS: list[Callable[[], SchemaExtension]] = [
    lambda: QueryDepthLimiter(max_depth=8),
    lambda: MaxTokensLimiter(max_token_count=2000),
    lambda: MaxAliasesLimiter(max_alias_count=20),
    introspection_limiter,
]

schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=LIMITS)
