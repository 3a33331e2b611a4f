package domain

// serviceAccountMeanings are the catalogue entries of the service-account,
// name, client id and token streams (see event_catalogue.go).
func serviceAccountMeanings(entry func(aggregate, action, resourceType string) meaning,
	reservation func(aggregate, action, resourceType, field string) meaning) map[string]meaning {
	const sa = ResourceServiceAccounts
	authn := []string{"authentication"}
	return map[string]meaning{
		EventServiceAccountCreated:       entry(ServiceAccountAggregate, "service_account.create", sa).severity(SeverityNotice),
		EventServiceAccountUpdated:       entry(ServiceAccountAggregate, "service_account.update", sa),
		EventServiceAccountRolesAssigned: entry(ServiceAccountAggregate, "service_account.assign_roles", sa).severity(SeverityNotice),
		EventServiceAccountDisabled:      entry(ServiceAccountAggregate, "service_account.disable", sa).severity(SeverityNotice),
		EventServiceAccountEnabled:       entry(ServiceAccountAggregate, "service_account.enable", sa).severity(SeverityNotice),
		EventServiceAccountDeleted:       entry(ServiceAccountAggregate, "service_account.delete", sa).severity(SeverityNotice),
		// A new or rotated secret is a new way in: worth a look.
		EventClientCredentialCreated: entry(ServiceAccountAggregate, "service_account.create_credential", sa).
			ecs([]string{"iam"}, "user", "creation").severity(SeverityNotice),
		EventClientCredentialRotated: entry(ServiceAccountAggregate, "service_account.rotate_credential", sa).
			ecs([]string{"iam"}, "user", "change").severity(SeverityNotice),
		EventClientCredentialRevoked: entry(ServiceAccountAggregate, "service_account.revoke_credential", sa).
			ecs([]string{"iam"}, "user", "deletion").severity(SeverityNotice),
		EventServiceAccountNameReserved: reservation(ServiceAccountNameAggregate, "service_account.reserve_name", sa, "service_account_id"),
		EventServiceAccountNameReleased: reservation(ServiceAccountNameAggregate, "service_account.release_name", sa, "service_account_id"),
		EventClientIDAssigned:           reservation(ClientIDAggregate, "service_account.assign_client_id", sa, "service_account_id"),
		EventClientTokenIssued: entry(ClientTokenAggregate, "auth.client_credentials", sa).
			ecs(authn, "start"),
		EventClientTokenRefused: entry(ClientTokenAggregate, "auth.client_credentials", sa).
			ecs(authn, "start").outcome(AuditFailed).severity(SeverityWarning),
	}
}
