"""The GraphQL schema, composed from each domain's Query and Mutation."""

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from control_plane.graphql.extensions import Authorization, ErrorMasking
from control_plane.graphql.introspection import introspection_limiter
from control_plane.graphql.permissions import Declarations
from control_plane.identity import permissions as identity_permissions
from control_plane.identity.queries import Query as IdentityQuery
from control_plane.members import permissions as member_permissions
from control_plane.members.mutations import Mutation as MemberMutation
from control_plane.members.queries import Query as MemberQuery
from control_plane.nodes import permissions as node_permissions
from control_plane.nodes.queries import Query as NodeQuery
from control_plane.policies import permissions as policy_permissions
from control_plane.policies.mutations import Mutation as PolicyMutation
from control_plane.policies.queries import Query as PolicyQuery
from control_plane.runs import permissions as run_permissions
from control_plane.runs.mutations import Mutation as RunMutation
from control_plane.runs.queries import Query as RunQuery
from control_plane.secrets import permissions as secret_permissions
from control_plane.secrets.mutations import Mutation as SecretMutation
from control_plane.secrets.queries import Query as SecretQuery
from control_plane.tasks import permissions as task_permissions
from control_plane.tasks.mutations import Mutation as TaskMutation
from control_plane.tasks.queries import Query as TaskQuery
from control_plane.tokens import permissions as token_permissions
from control_plane.tokens.mutations import Mutation as TokenMutation
from control_plane.tokens.queries import Query as TokenQuery
from control_plane.workflows import permissions as workflow_permissions
from control_plane.workflows.mutations import Mutation as WorkflowMutation
from control_plane.workflows.queries import Query as WorkflowQuery
from control_plane.workspaces import permissions as workspace_permissions
from control_plane.workspaces.mutations import Mutation as WorkspaceMutation
from control_plane.workspaces.queries import Query as WorkspaceQuery

Query = merge_types(
    "Query",
    (
        IdentityQuery,
        WorkspaceQuery,
        MemberQuery,
        TokenQuery,
        PolicyQuery,
        SecretQuery,
        WorkflowQuery,
        RunQuery,
        NodeQuery,
        TaskQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        WorkspaceMutation,
        MemberMutation,
        TokenMutation,
        PolicyMutation,
        SecretMutation,
        WorkflowMutation,
        RunMutation,
        TaskMutation,
    ),
)

DECLARATIONS = Declarations.merge(
    [
        identity_permissions.DECLARATIONS,
        workspace_permissions.DECLARATIONS,
        member_permissions.DECLARATIONS,
        token_permissions.DECLARATIONS,
        policy_permissions.DECLARATIONS,
        secret_permissions.DECLARATIONS,
        workflow_permissions.DECLARATIONS,
        run_permissions.DECLARATIONS,
        node_permissions.DECLARATIONS,
        task_permissions.DECLARATIONS,
    ]
)

# Limits that keep one request from costing the server much; far above what the builder,
# the CLI or any sensible client sends.
LIMITS: list[Callable[[], SchemaExtension]] = [
    lambda: QueryDepthLimiter(max_depth=8),
    lambda: MaxTokensLimiter(max_token_count=2000),
    lambda: MaxAliasesLimiter(max_alias_count=20),
    introspection_limiter,
]


class FlowForgeSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Refusals are answers, not faults; `ErrorMasking` logs the unexpected ones.
        return None


schema = FlowForgeSchema(
    query=Query,
    mutation=Mutation,
    # The last is outermost: errors raised by authorization are masked like any other.
    extensions=[*LIMITS, lambda: Authorization(DECLARATIONS), ErrorMasking],
)
