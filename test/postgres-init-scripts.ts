// For the tests that run compose's PostgreSQL init scripts (docker/postgres) against the test
// server: what the scripts read to reach it as its superuser, as the image's entrypoint gives them.
export function superuserEnv(server: URL): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: server.hostname,
    PGPORT: server.port,
    PGPASSWORD: decodeURIComponent(server.password),
    POSTGRES_USER: decodeURIComponent(server.username),
  };
}

/** The server's maintenance database, as its superuser. */
export function adminUrl(server: URL): string {
  return `${server.protocol}//${server.username}:${server.password}@${server.host}/postgres`;
}
