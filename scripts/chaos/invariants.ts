// What must hold after the chaos, read from the databases and set against every answer given:
// each user's unread count equals their unacknowledged deliveries; every publish answered ok is
// stored exactly once, and one refused is not stored; an ack answered ok is recorded, one refused
// is not; an archived notification is acknowledged (archiving reads), an archive answered ok is
// archived and acknowledged, one refused is not archived; nothing is left half-applied (pending
// notifications or acks, marks-all-read claims, staged counts) and no transaction is still
// prepared or in doubt. Marking all read acknowledges deliveries as acks do, so the counts hold it to the same rule.
import pg from 'pg';
import { NO_ANSWER, type CallRecord } from './load.ts';

/** Answers that leave the outcome open: the caller was told it is not known yet, or heard nothing. */
const UNDECIDED = new Set([NO_ANSWER, 'TIMEOUT']);
/** Answers that say the call changed nothing, whatever the transport did. */
const DEFINITE_REFUSALS = new Set(['INVALID_ARGUMENT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT']);

async function rows<T>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Transactions still open anywhere: coordinator rows not completed, participant rows prepared. */
export async function openTransactions(urlFor: (database: string) => string): Promise<{ coordinator: number; persist: number; counter: number }> {
  const count = async (database: string, sql: string) => Number((await rows<{ n: string }>(urlFor(database), sql))[0]!.n);
  return {
    coordinator: await count('gateway', 'SELECT count(*) AS n FROM coordinator_transactions WHERE completed_at IS NULL'),
    persist: await count('persist', "SELECT count(*) AS n FROM two_phase_transactions WHERE state = 'prepared'"),
    counter: await count('counter', "SELECT count(*) AS n FROM two_phase_transactions WHERE state = 'prepared'"),
  };
}

export async function checkInvariants(urlFor: (database: string) => string, records: CallRecord[], users: { id: string }[]): Promise<string[]> {
  const violations: string[] = [];
  const persist = urlFor('persist');
  const counter = urlFor('counter');

  const open = await openTransactions(urlFor);
  for (const [where, n] of Object.entries(open)) if (n) violations.push(`${n} transaction(s) still open at ${where}`);

  const stored = new Map<string, number>();
  for (const row of await rows<{ title: string; n: number }>(persist, "SELECT title, count(*)::int AS n FROM notifications WHERE state = 'committed' GROUP BY title")) stored.set(row.title, row.n);
  const [half] = await rows<{ notifications: number; acks: number }>(
    persist,
    "SELECT (SELECT count(*)::int FROM notifications WHERE state <> 'committed') AS notifications, (SELECT count(*)::int FROM deliveries WHERE ack_state = 'pending') AS acks",
  );
  if (half!.notifications) violations.push(`${half!.notifications} notification(s) left uncommitted`);
  if (half!.acks) violations.push(`${half!.acks} acknowledgement(s) left pending`);
  const [staged] = await rows<{ n: number }>(counter, 'SELECT count(*)::int AS n FROM staged_changes');
  if (staged!.n) violations.push(`${staged!.n} staged count change(s) left in counter`);

  for (const call of records.filter((record) => record.method === 'notifications.publish')) {
    const copies = stored.get(call.key) ?? 0;
    if (copies > 1) violations.push(`publish ${call.key} stored ${copies} times`);
    if (call.outcome === 'ok' && copies !== 1) violations.push(`publish ${call.key} answered ok but is not stored`);
    if (call.outcome !== 'ok' && !UNDECIDED.has(call.outcome) && copies !== 0) violations.push(`publish ${call.key} answered ${call.outcome} but is stored`);
  }

  const acked = new Set(
    (await rows<{ key: string }>(persist, "SELECT notification_id::text || '/' || recipient_id AS key FROM deliveries WHERE ack_state = 'acked'")).map((row) => row.key),
  );
  // The deliveries an ack call itself acknowledged (its transaction was a plain notification.ack):
  // a delivery may also have been read by a mark-all-read or an archive of the user's, which does
  // not make an ack refused meanwhile untruthful.
  const ackedByAck = new Set(
    (
      await rows<{ key: string }>(
        persist,
        `SELECT d.notification_id::text || '/' || d.recipient_id AS key
           FROM deliveries d JOIN two_phase_transactions t ON t.tx_id = d.ack_tx_id
          WHERE d.ack_state = 'acked' AND t.action = 'notification.ack' AND NOT coalesce((t.payload->>'archive')::boolean, false)`,
      )
    ).map((row) => row.key),
  );
  // A user may acknowledge the same notification more than once (a push can come twice); one
  // recorded ack is truthful if any of its answers was ok, conflicting, or left the outcome open.
  const acks = Map.groupBy(
    records.filter((record) => record.method === 'notifications.ack'),
    (record) => `${record.key}/${record.user}`,
  );
  for (const [key, answers] of acks) {
    const isAcked = acked.has(key);
    if (answers.some((call) => call.outcome === 'ok') && !isAcked) violations.push(`ack ${key} answered ok but is not recorded`);
    const refusedOnly = answers.every((call) => call.outcome !== 'ok' && call.outcome !== 'CONFLICT' && !UNDECIDED.has(call.outcome));
    if (refusedOnly && ackedByAck.has(key)) violations.push(`ack ${key} answered ${answers.map((call) => call.outcome).join(', ')} but is recorded`);
  }

  // Archiving reads: no delivery is archived and unacknowledged, whatever path it took.
  const [archivedUnread] = await rows<{ n: number }>(persist, "SELECT count(*)::int AS n FROM deliveries WHERE archived AND ack_state <> 'acked'");
  if (archivedUnread!.n) violations.push(`${archivedUnread!.n} archived delivery(ies) not acknowledged`);
  const archived = new Set(
    (await rows<{ key: string }>(persist, "SELECT notification_id::text || '/' || recipient_id AS key FROM deliveries WHERE archived")).map((row) => row.key),
  );
  const archives = Map.groupBy(
    records.filter((record) => record.method === 'notifications.archive'),
    (record) => `${record.key}/${record.user}`,
  );
  for (const [key, answers] of archives) {
    const isArchived = archived.has(key);
    if (answers.some((call) => call.outcome === 'ok') && !(isArchived && acked.has(key))) violations.push(`archive ${key} answered ok but is not archived and acknowledged`);
    // Only a refusal that proves nothing was done counts: archiving a read one is a plain write at
    // persist, which a persist dying before its answer may have made (UNAVAILABLE).
    const refusedOnly = answers.every((call) => DEFINITE_REFUSALS.has(call.outcome));
    if (refusedOnly && isArchived) violations.push(`archive ${key} answered ${answers.map((call) => call.outcome).join(', ')} but is archived`);
  }

  const unacked = new Map(
    (
      await rows<{ user: string; n: number }>(
        persist,
        "SELECT d.recipient_id AS user, count(*)::int AS n FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.state = 'committed' AND d.ack_state <> 'acked' GROUP BY 1",
      )
    ).map((row) => [row.user, row.n]),
  );
  const counts = new Map((await rows<{ user_id: string; unread: number }>(counter, 'SELECT user_id, unread FROM counters')).map((row) => [row.user_id, row.unread]));
  for (const { id } of users) {
    const expected = unacked.get(id) ?? 0;
    const actual = counts.get(id) ?? 0;
    if (expected !== actual) violations.push(`user ${id}: unread ${actual}, but ${expected} delivery(ies) unacknowledged`);
  }
  return violations;
}
