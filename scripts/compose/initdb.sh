#!/bin/sh
# Runs inside the postgres container once, when its data volume is first
# initialised (docker-entrypoint-initdb.d). POSTGRES_USER owns the database
# and runs the migrations (the one-shot vault-migrate service); vaultd logs
# in as vault_service, a member of vault_app and owner of nothing, so it can
# append to the event log but never rewrite it. The migrations grant
# vault_app its privileges; creating it here first is what lets
# vault_service be made its member now.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$VAULT_DB_PASSWORD" \
	--username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE vault_app NOLOGIN;
CREATE ROLE vault_service LOGIN PASSWORD :'app_password' IN ROLE vault_app;
SQL
