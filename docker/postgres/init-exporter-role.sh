#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d), after the
# services' roles: the login role postgres_exporter reads the server's statistics as, with
# pg_monitor (statistics views, settings) and CONNECT on `postgres` only: no service's data, no
# writes. Its password comes from POSTGRES_EXPORTER_PASSWORD, which compose requires. For a data
# volume made before this script, run it once by hand (see the README). EXPORTER_ROLE names the
# role (the tests use their own name).
set -eu
role="${EXPORTER_ROLE:-postgres_exporter}"
if [ -z "${POSTGRES_EXPORTER_PASSWORD:-}" ]; then
  echo "init-exporter-role: set POSTGRES_EXPORTER_PASSWORD" >&2
  exit 1
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v role="$role" -v password="$POSTGRES_EXPORTER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE pg_monitor', :'role', :'password') \gexec
SELECT format('GRANT CONNECT ON DATABASE postgres TO %I', :'role') \gexec
SQL
