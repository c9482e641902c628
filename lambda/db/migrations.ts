/**
 * Versioned schema migrations, applied in order, each once, each in its own transaction.
 * Every statement is written to work both on an empty database and on one where the
 * take-home's `user_logins` (seven columns, no keys) already exists with rows: it creates
 * what is missing and keeps every row.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'user_logins',
    sql: `
      -- The take-home's table, exactly (types included: app_version is integer).
      CREATE TABLE IF NOT EXISTS user_logins (
        user_id          varchar(128),
        device_type      varchar(32),
        masked_ip        varchar(256),
        masked_device_id varchar(256),
        locale           varchar(32),
        app_version      integer,
        create_date      date
      );
      -- What idempotency, key rotation and auditing need. Pre-existing rows keep NULLs here.
      ALTER TABLE user_logins
        ADD COLUMN IF NOT EXISTS message_id      varchar(128),
        ADD COLUMN IF NOT EXISTS key_id          varchar(32),
        ADD COLUMN IF NOT EXISTS app_version_raw varchar(32),
        ADD COLUMN IF NOT EXISTS ingested_at     timestamptz NOT NULL DEFAULT now();
      -- SQS delivers at least once: one row per message id (NULLs, i.e. old rows, never clash).
      CREATE UNIQUE INDEX IF NOT EXISTS user_logins_message_id_key ON user_logins (message_id);
      COMMENT ON COLUMN user_logins.app_version IS
        'major*1000000 + minor*1000 + patch (order-preserving); original text in app_version_raw';
      COMMENT ON COLUMN user_logins.masked_ip IS
        '<key_id>:base64url(HMAC-SHA256(HKDF(key, "login-queue/v1/ip"), canonical ip))';
      COMMENT ON COLUMN user_logins.masked_device_id IS
        '<key_id>:base64url(HMAC-SHA256(HKDF(key, "login-queue/v1/device_id"), trimmed NFC id))';
    `,
  },
];
