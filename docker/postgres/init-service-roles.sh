#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d): one
# login role per service, owning a database of the same name, which no other role may connect to.
# A service's password comes from <SERVICE>_DB_PASSWORD (e.g. PERSIST_DB_PASSWORD); compose
# requires each. SERVICE_DATABASES names the services (the tests use their own names).
set -eu
services="${SERVICE_DATABASES:-auth counter persist mailer gateway avatar}"
password_of() {
  var="$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')_DB_PASSWORD"
  eval "password=\${$var:-}"
}
# Every password first: a missing one creates nothing.
for service in $services; do
  password_of "$service"
  if [ -z "$password" ]; then
    echo "init-service-roles: set $var" >&2
    exit 1
  fi
done
for service in $services; do
  password_of "$service"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v role="$service" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role') \gexec
-- Every role may connect to every database by default (PUBLIC): only the owner may connect to this one.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SQL
done
# Nor to the server's own databases: a service needs nothing there.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -c 'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC' -c 'REVOKE CONNECT ON DATABASE template1 FROM PUBLIC'
