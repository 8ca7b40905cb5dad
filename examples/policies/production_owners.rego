# Only the owners of a project may publish workflows to it when the project is tagged
# `production`; editors still publish freely everywhere else.
package flowforge.policies.production_owners

import rego.v1

deny contains "only owners may publish to projects tagged production" if {
	input.action == "publish"
	"production" in input.project.tags

	# `not ... ==` rather than `!=`: it refuses as well if the field were ever missing.
	not input.principal.role == "owner"
}
