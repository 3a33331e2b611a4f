package domain

import "slices"

// The built-in admin role and policy are what recovers a vault whose other
// administrators are gone, so neither can be emptied: the admin policy
// keeps every permission it grants (it may only gain some, as the escalate
// upgrade does) and its name, and the admin role keeps exactly the admin
// policy and its name. Neither can be deleted (Policy.Delete, Role.Delete), and the
// last holder of the admin role cannot lose it (RoleMembers).

// checkAdminPolicyKept refuses an update of the built-in admin policy that
// renames it or takes anything from it: every permission it allowed stays
// allowed and it gains no deny, i.e. going back would grant nothing.
func checkAdminPolicyKept(cur policyState, name string, statements []Statement) error {
	if name != cur.Name {
		return Errorf(EUNPROCESSABLE, "the built-in admin policy cannot be renamed")
	}
	if len(GrantOf(statements, cur.Statements)) > 0 {
		return Errorf(EUNPROCESSABLE, "the built-in admin policy's statements cannot be reduced")
	}
	return nil
}

// checkAdminRoleKept refuses an update of the built-in admin role that
// renames it or changes its policies: it holds the admin policy and nothing
// else, so no other policy's deny can ever empty it.
func checkAdminRoleKept(cur roleState, name string, policyIDs []string) error {
	if name != cur.Name {
		return Errorf(EUNPROCESSABLE, "the built-in admin role cannot be renamed")
	}
	if !slices.Equal(policyIDs, []string{AdminPolicyID}) {
		return Errorf(EUNPROCESSABLE, "the built-in admin role holds the admin policy and nothing else")
	}
	return nil
}

// AdminPolicyNeedsEscalate reports whether the built-in admin policy's
// statements predate ActionEscalate: stores created before it have
// `allow * **`, which no longer includes escalate.
func AdminPolicyNeedsEscalate(statements []Statement) bool {
	for _, st := range statements {
		if st.Effect == EffectAllow && slices.Contains(st.Actions, ActionEscalate) && slices.Contains(st.Resources, "**") {
			return false
		}
	}
	return true
}

// AdminPolicyWithEscalate is the upgrade of such statements: the legacy
// `allow * **` becomes the current built-in statement, anything else keeps
// every statement and gains `allow escalate **`. Either way nothing is
// taken away.
func AdminPolicyWithEscalate(statements []Statement) []Statement {
	legacy := []Statement{{Effect: EffectAllow, Actions: []string{ActionAny}, Resources: []string{"**"}}}
	if statementsEqual(statements, legacy) {
		return AdminPolicy().Statements
	}
	return append(cloneStatements(statements), Statement{Effect: EffectAllow, Actions: []string{ActionEscalate}, Resources: []string{"**"}})
}
