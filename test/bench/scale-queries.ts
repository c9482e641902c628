/**
 * The analyst and operator queries `npm run bench -- --scale` times: the 7-day duplicate
 * queries as first written and as docs/design/schema.md recommends them, and single-token and
 * single-user lookups, each with the secondary index it relies on.
 */

/** What a query's one parameter is: a value seen yesterday. */
export type Sample = 'ip' | 'device' | 'user';

export interface Query {
  readonly label: string;
  readonly sql: string;
  readonly param?: Sample;
  /** Session settings for this query only. */
  readonly settings?: readonly string[];
  /** The index it is meant to use: also timed without it (dropped in a rolled-back transaction). */
  readonly index?: string;
}

const WEEK = 'create_date >= current_date - 7';

/** The first version: count(DISTINCT) sorts every group's user ids. */
const countDistinct = (column: string) =>
  `SELECT ${column}, count(DISTINCT user_id) FROM user_logins
    WHERE ${WEEK} GROUP BY 1 HAVING count(DISTINCT user_id) > 1`;

/**
 * The recommended one: distinct (token, user) pairs, then a count per token (count(user_id),
 * so that a NULL user id counts as count(DISTINCT) counts it: not at all). COLLATE "C"
 * compares bytes (tokens and ids are ASCII; equality is the same under any deterministic
 * collation), which sorts much faster than a locale's rules.
 */
export const shared = (column: string) =>
  `SELECT ${column}, count(user_id) AS users
     FROM (SELECT DISTINCT ${column} COLLATE "C" AS ${column}, user_id COLLATE "C" AS user_id
             FROM user_logins WHERE ${WEEK}) AS pairs
    GROUP BY 1 HAVING count(user_id) > 1`;

const SERIAL = ['SET max_parallel_workers_per_gather = 0'];
const DATE_INDEX = 'user_logins_create_date_tokens_idx';

export const QUERIES: readonly Query[] = [
  { label: 'shared ips, count(DISTINCT)', sql: countDistinct('masked_ip') },
  { label: 'shared devices, count(DISTINCT)', sql: countDistinct('masked_device_id') },
  { label: 'shared ips, pairs', sql: shared('masked_ip'), index: DATE_INDEX },
  { label: 'shared devices, pairs', sql: shared('masked_device_id'), index: DATE_INDEX },
  {
    label: 'shared ips, pairs, serial',
    sql: shared('masked_ip'),
    settings: SERIAL,
    index: DATE_INDEX,
  },
  {
    label: 'shared devices, pairs, serial',
    sql: shared('masked_device_id'),
    settings: SERIAL,
    index: DATE_INDEX,
  },
  {
    label: 'one ip, 7 days',
    sql: `SELECT user_id, create_date FROM user_logins WHERE masked_ip = $1 AND ${WEEK}`,
    param: 'ip',
    index: 'user_logins_masked_ip_idx',
  },
  {
    label: 'one device, 7 days',
    sql: `SELECT user_id, create_date FROM user_logins WHERE masked_device_id = $1 AND ${WEEK}`,
    param: 'device',
    index: 'user_logins_masked_device_id_idx',
  },
  {
    // unmask's lookup (lambda/ops/recover.ts), which names no date.
    label: 'one ip token, any date (unmask)',
    sql: 'SELECT message_id FROM user_logins WHERE masked_ip = $1 OR masked_device_id = $1 LIMIT 1',
    param: 'ip',
    index: 'user_logins_masked_ip_idx',
  },
  {
    label: "one user's rows, any date (forget)",
    sql: 'SELECT message_id, create_date FROM user_logins WHERE user_id = $1',
    param: 'user',
    index: 'user_logins_user_id_idx',
  },
];
