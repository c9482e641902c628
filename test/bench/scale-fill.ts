/**
 * The rows `npm run bench -- --scale` fills user_logins with: made in SQL (generate_series),
 * already masked, with the shapes and cardinalities of real traffic.
 */

/** A token of the real shape: `k1:` + 43 base64url characters (an HMAC-SHA256). */
const token = (value: string) =>
  `'k1:' || translate(rtrim(encode(sha256(convert_to(${value}, 'UTF8')), 'base64'), '='), '+/', '-_')`;

/**
 * Rows $1 .. $2 - 1 (numbered from 0) spread evenly over the $3 days ending today, oldest
 * first, among $4 users. Each row: a user drawn with u = floor($4 · r²) (a few very active
 * users, a long tail of rare ones); its ip is the user's home address 70 % of the time (one
 * address per two users: households, offices), one of 1,000 carrier-NAT addresses 1 %, else
 * one of 5 million mobile addresses; its device is the user's own 90 %, else another user's.
 */
export const FILL_SQL = `
  INSERT INTO user_logins (message_id, user_id, device_type, masked_ip, masked_device_id, locale,
                           app_version, app_version_raw, create_date, key_id, ingested_at)
  SELECT md5('m' || i)::uuid::text,
         md5('u' || u)::uuid::text,
         CASE WHEN u % 20 < 11 THEN 'android' ELSE 'ios' END,
         ${token(`'ip' || CASE WHEN r_ip < 0.7 THEN 'home' || (u % greatest(1, $4 / 2))
                             WHEN r_ip < 0.71 THEN 'cgnat' || floor(r_pick * 1000)
                             ELSE 'mobile' || floor(r_pick * 5000000) END`)},
         ${token(`'device' || CASE WHEN r_dev < 0.9 THEN u ELSE floor(r_pick * $4)::bigint END`)},
         CASE WHEN u % 10 < 3 THEN NULL
              ELSE (ARRAY['RU','PH','ID','FR','US','BR','DE','IN','JP','NG','MX','PL'])[1 + u % 12] END,
         (u % 10) * 1000000 + (i / 7 % 20) * 1000,
         (u % 10) || '.' || (i / 7 % 20) || '.0',
         d,
         'k1',
         d + r_pick * interval '1 day'
    FROM (SELECT i,
                 current_date - ($3 - 1) + ((i - $1) * $3 / ($2 - $1))::int AS d,
                 floor($4 * power(random(), 2))::bigint AS u,
                 random() AS r_ip, random() AS r_dev, random() AS r_pick
            FROM generate_series($1, $2 - 1) AS i) AS s`
  .replaceAll('$1', '$1::bigint')
  .replaceAll('$2', '$2::bigint')
  .replaceAll('$3', '$3::int')
  .replaceAll('$4', '$4::bigint');

/** One line saying what the rows look like, for the benchmark's output. */
export function fillDescription(days: number, users: number, granularity: string): string {
  return (
    `Rows: evenly over the ${days} days ending today, ${granularity === 'day' ? 'daily' : 'monthly'} partitions made by maintain; ` +
    `${users.toLocaleString('en-US')} users drawn as floor(users × r²) (few very active, a long tail); ` +
    'ip: the home address of 2 users 70 %, one of 1,000 carrier-NAT addresses 1 %, one of 5 M ' +
    "mobile ones 29 %; device: the user's own 90 %, another user's 10 %; " +
    'tokens k1: + 43 base64url characters, ids UUIDs, no sealed PII.'
  );
}
