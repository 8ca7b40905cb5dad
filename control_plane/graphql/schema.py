"""The GraphQL schema, composed from each domain's Query and Mutation."""

import strawberry
from strawberry.tools import merge_types

from control_plane.nodes.queries import Query as NodeQuery
from control_plane.runs.mutations import Mutation as RunMutation
from control_plane.runs.queries import Query as RunQuery
from control_plane.workflows.mutations import Mutation as WorkflowMutation
from control_plane.workflows.queries import Query as WorkflowQuery
from control_plane.workspaces.queries import Query as WorkspaceQuery

Query = merge_types("Query", (WorkspaceQuery, WorkflowQuery, RunQuery, NodeQuery))
Mutation = merge_types("Mutation", (WorkflowMutation, RunMutation))

schema = strawberry.Schema(query=Query, mutation=Mutation)
