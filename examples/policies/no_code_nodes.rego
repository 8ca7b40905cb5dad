# Projects tagged `no-code` take no `core.code` node: a workflow containing one is neither
# published nor started there (started too, for workflows published before the tag).
package flowforge.policies.no_code_nodes

import rego.v1

deny contains msg if {
	input.action in {"publish", "start"}
	"no-code" in input.project.tags
	"core.code" in input.workflow.node_types
	msg := sprintf("workflow %v has a core.code node, which projects tagged no-code do not allow", [input.workflow.name])
}
