// Settings that make a test system quick, shared by the tests and the benchmarks that start one:
// what they buy is time, never a different behaviour to prove.

/** Cheap password hashing (auth): these runs are about the system, not argon2's cost. */
export const CHEAP_PASSWORDS: Readonly<Record<string, string>> = { PASSWORD_MEMORY_KIB: '1024', PASSWORD_ITERATIONS: '1' };

/** Fast retries and a short heartbeat (mailer), so a mail queue's recovery fits in a test. */
export const FAST_MAIL_QUEUE: Readonly<Record<string, string>> = {
  SEND_RETRY_DELAY_SECONDS: '1',
  SEND_RETRY_DELAY_MAX_SECONDS: '2',
  QUEUE_POLL_INTERVAL_MS: '500',
  QUEUE_MONITOR_INTERVAL_SECONDS: '1',
  JOB_HEARTBEAT_SECONDS: '10',
};
