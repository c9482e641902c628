/**
 * The analyst queries `npm run bench -- --scale` times: the README's duplicate queries over
 * the last 7 days, and a single token's lookups.
 */

export interface Query {
  readonly label: string;
  readonly sql: string;
  /** Takes one parameter: a masked ip seen yesterday. */
  readonly token?: boolean;
}

const dupReadme = (column: string) =>
  `SELECT ${column}, count(DISTINCT user_id) FROM user_logins
    WHERE create_date >= current_date - 7 GROUP BY 1 HAVING count(DISTINCT user_id) > 1`;

export const QUERIES: readonly Query[] = [
  { label: 'shared ips, 7 days (count DISTINCT)', sql: dupReadme('masked_ip') },
  { label: 'shared devices, 7 days (count DISTINCT)', sql: dupReadme('masked_device_id') },
  {
    label: 'one ip, 7 days',
    sql: 'SELECT user_id, create_date FROM user_logins WHERE masked_ip = $1 AND create_date >= current_date - 7',
    token: true,
  },
  {
    label: 'one token, any date (unmask)',
    sql: 'SELECT message_id FROM user_logins WHERE masked_ip = $1 OR masked_device_id = $1',
    token: true,
  },
];
