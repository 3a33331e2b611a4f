#!/usr/bin/env bash
# Creates the .env file docker compose reads its keys and passwords from,
# ONCE. An existing file is kept as it is: the keys in it encrypt the stack's
# data and chain its event log, so regenerating them would make a second
# start fail to decrypt its own master key and to verify its own log.
#
#   scripts/dev-env.sh            # writes ./.env next to docker-compose.yml
#   scripts/dev-env.sh PATH       # writes PATH instead
#
# Needs only bash, od and base64. The file is created with mode 0600 and is
# git- and docker-ignored: never commit it, never bake it into an image.
set -euo pipefail

cd "$(dirname "$0")/.."
out="${1:-.env}"

if [[ -e "$out" ]]; then
	echo "kept $out: it was created before, and its keys must not change (delete the stack's volumes first to start over)"
	exit 0
fi

b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
hex() { od -An -tx1 -N "$1" /dev/urandom | tr -d ' \n'; }

umask 077
tmp="$(mktemp "${out}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" <<ENV
# Created once by scripts/dev-env.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) for docker compose.
# Keep this file for as long as the stack's volumes live: ENCRYPTION_KEY decrypts the
# stored secrets, VAULT_CHAIN_KEY verifies the event log, VAULT_CHECKPOINT_KEY signs
# its checkpoints. Never commit it.
POSTGRES_PASSWORD=$(hex 24)
VAULT_DB_PASSWORD=$(hex 24)
MINIO_ROOT_PASSWORD=$(hex 24)
SECRET_KEY=$(b64 48)
ENCRYPTION_KEY=$(b64 32)
VAULT_CHAIN_KEY=$(b64 32)
VAULT_CHECKPOINT_KEY=$(b64 32)
VAULT_ADMIN_PASSWORD=$(hex 16)
ENV
# A hard link publishes the file only if nobody created it meanwhile.
if ! ln "$tmp" "$out" 2>/dev/null; then
	echo "kept $out: another run created it first"
	exit 0
fi
echo "wrote $out (mode 0600); the admin password is VAULT_ADMIN_PASSWORD in it"
