# Workflows of projects tagged `onprem-only` run only on the pool `onprem`: a run starts
# there, and no node may be pinned to another pool (checked when the workflow is published
# and again when a run starts, in case the tag was added after publishing).
package flowforge.policies.onprem_only

import rego.v1

deny contains msg if {
	input.action == "start"
	"onprem-only" in input.project.tags
	not input.pool == "onprem"
	msg := sprintf("runs of projects tagged onprem-only start only on pool onprem, not %v", [input.pool])
}

deny contains msg if {
	input.action in {"publish", "start"}
	"onprem-only" in input.project.tags
	some pool in input.workflow.pools
	pool != "onprem"
	msg := sprintf("node pool %v is not allowed in projects tagged onprem-only: use pool onprem", [pool])
}
