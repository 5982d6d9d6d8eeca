// The postgres_exporter metrics the PostgreSQL board and the rules read, by name. The exporter runs
// only under compose, so no system the tests start exports them: the board test checks every
// metric a board or rule names against the services' /metrics plus this list (and that every name
// here is read), and test/monitoring.postgres-exporter-exports-what-the-board-reads.test.ts runs a
// real postgres_exporter where one is installed and checks that it exports each of them.

export const POSTGRES_EXPORTER_METRICS: ReadonlySet<string> = new Set([
  // Whether the exporter reached PostgreSQL at its last scrape (PostgresDown).
  'pg_up',
  // Collector `database`: each database's size.
  'pg_database_size_bytes',
  // Locks held, by database and mode.
  'pg_locks_count',
  // Settings (pg_settings), one gauge each.
  'pg_settings_max_connections',
  // pg_stat_activity: connections by database and state, and the oldest transaction's age.
  'pg_stat_activity_count',
  'pg_stat_activity_max_tx_duration',
  // pg_stat_database, by database.
  'pg_stat_database_numbackends',
  'pg_stat_database_xact_commit',
  'pg_stat_database_xact_rollback',
  'pg_stat_database_blks_hit',
  'pg_stat_database_blks_read',
  'pg_stat_database_tup_inserted',
  'pg_stat_database_tup_updated',
  'pg_stat_database_tup_deleted',
  'pg_stat_database_tup_fetched',
  'pg_stat_database_deadlocks',
  'pg_stat_database_conflicts',
  'pg_stat_database_temp_bytes',
]);
