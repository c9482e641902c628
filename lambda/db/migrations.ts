/**
 * Versioned schema migrations, applied in order, each once, each in its own transaction.
 * Every statement is written to work both on an empty database and on one where the
 * take-home's `user_logins` (seven columns, no keys) already exists with rows: it creates
 * what is missing and keeps every row. Migrations only add (see docs/design/schema.md):
 * new code may run before its migration, and old code after it. Never edit a released one.
 */
import { ANALYST_ROLE, OPERATOR_ROLE, WRITER_ROLE } from '../contract/roles';

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
  {
    version: 2,
    name: 'pii_recovery',
    sql: `
      -- Sealed ip/device_id (lambda/recovery.ts): only the recovery private key opens them.
      ALTER TABLE user_logins
        ADD COLUMN IF NOT EXISTS recovery_key_id varchar(32),
        ADD COLUMN IF NOT EXISTS pii_sealed      bytea;
      -- Who recovered which token, when and why (never the value).
      CREATE TABLE IF NOT EXISTS pii_recovery_audit (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at         timestamptz NOT NULL DEFAULT now(),
        operator   text NOT NULL,
        token      text NOT NULL,
        field      text NOT NULL,
        reason     text NOT NULL
      );
      -- Everything but the sealed PII, for analysts.
      CREATE OR REPLACE VIEW user_logins_analytics AS
        SELECT user_id, device_type, masked_ip, masked_device_id, locale, app_version, create_date,
               message_id, key_id, app_version_raw, ingested_at
        FROM user_logins;
      -- Roles (cluster-wide; created when this user may): analysts read every column but the
      -- sealed PII; recovery operators read the sealed PII and write the audit trail.
      DO $roles$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
          RAISE NOTICE 'login-queue: no CREATEROLE; analyst and recovery roles not created';
          RETURN;
        END IF;
        BEGIN
          CREATE ROLE login_queue_analyst NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
        BEGIN
          CREATE ROLE login_queue_recovery NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
        REVOKE ALL ON user_logins FROM login_queue_analyst;
        GRANT SELECT (user_id, device_type, masked_ip, masked_device_id, locale, app_version, create_date,
                      message_id, key_id, app_version_raw, ingested_at) ON user_logins TO login_queue_analyst;
        GRANT SELECT ON user_logins_analytics TO login_queue_analyst;
        GRANT SELECT ON user_logins TO login_queue_recovery;
        GRANT INSERT ON pii_recovery_audit TO login_queue_recovery;
      END
      $roles$;
    `,
  },
  {
    version: 3,
    name: 'writer_role',
    sql: `
      -- The function's own login: it appends rows to user_logins and can do nothing else.
      -- Cluster-wide; created when this user may create roles, granted whenever it exists.
      DO $writer$
      BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
          BEGIN
            CREATE ROLE ${WRITER_ROLE} LOGIN;
          EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
          END;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${WRITER_ROLE}') THEN
          RAISE NOTICE 'login-queue: no CREATEROLE; role ${WRITER_ROLE} not created';
          RETURN;
        END IF;
        REVOKE ALL ON user_logins FROM ${WRITER_ROLE};
        -- The columns COPY and INSERT name; ingested_at keeps its default (no forged times).
        GRANT INSERT (message_id, user_id, device_type, masked_ip, masked_device_id, locale, app_version,
                      app_version_raw, create_date, key_id, recovery_key_id, pii_sealed)
          ON user_logins TO ${WRITER_ROLE};
        -- ON CONFLICT (message_id) infers the unique index from that column: PostgreSQL
        -- requires SELECT on a conflict target's columns (and on nothing else).
        GRANT SELECT (message_id) ON user_logins TO ${WRITER_ROLE};
        -- RDS: the role then logs in with IAM tokens only. rds_iam exists only there.
        BEGIN
          GRANT rds_iam TO ${WRITER_ROLE};
        EXCEPTION WHEN undefined_object OR unique_violation THEN NULL;
        END;
        -- PostgreSQL 15's default, for older servers: PUBLIC (so the writer) may not create
        -- objects in schema public (CVE-2018-1058). Only a warning where this user may not.
        IF current_setting('server_version_num')::int < 150000 THEN
          REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        END IF;
      END
      $writer$;
    `,
  },
  {
    version: 4,
    name: 'partitioned_user_logins',
    sql: `
      -- user_logins becomes partitioned by month of create_date (README, Schema). A table
      -- that is not yet partitioned (the take-home's, or one of migrations 1-4) is converted
      -- in this transaction, under the migrations' advisory lock: every row, default, comment
      -- and privilege is kept; the analyst view follows the new table.
      CREATE TABLE IF NOT EXISTS partition_audit (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at         timestamptz NOT NULL DEFAULT now(),
        actor      text NOT NULL DEFAULT current_user,
        action     text NOT NULL,
        partition  text NOT NULL,
        range_from date,
        range_to   date,
        row_count  bigint
      );
      DO $partition$
      DECLARE
        month      date;
        first      date;
        last       date := (date_trunc('month', current_date) + interval '3 months')::date;
        acl        record;
        moved      bigint;
      BEGIN
        IF (SELECT relkind FROM pg_class WHERE oid = 'user_logins'::regclass) = 'p' THEN
          RETURN;
        END IF;
        ALTER TABLE user_logins RENAME TO user_logins_unpartitioned;
        ALTER INDEX IF EXISTS user_logins_message_id_key RENAME TO user_logins_unpartitioned_message_id_key;
        CREATE TABLE user_logins (LIKE user_logins_unpartitioned INCLUDING DEFAULTS INCLUDING COMMENTS)
          PARTITION BY RANGE (create_date);
        CREATE TABLE user_logins_default PARTITION OF user_logins DEFAULT;
        SELECT date_trunc('month', min(create_date))::date INTO first FROM user_logins_unpartitioned;
        first := least(coalesce(first, current_date), current_date - interval '1 month');
        month := date_trunc('month', first)::date;
        WHILE month <= last LOOP
          IF month >= date_trunc('month', current_date - interval '1 month')
             OR EXISTS (SELECT FROM user_logins_unpartitioned
                         WHERE create_date >= month AND create_date < month + interval '1 month') THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF user_logins FOR VALUES FROM (%L) TO (%L)',
                           'user_logins_p' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
            INSERT INTO partition_audit (action, partition, range_from, range_to)
              VALUES ('create', 'user_logins_p' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
          END IF;
          month := month + interval '1 month';
        END LOOP;
        INSERT INTO user_logins SELECT * FROM user_logins_unpartitioned;
        GET DIAGNOSTICS moved = ROW_COUNT;
        INSERT INTO partition_audit (action, partition, row_count)
          VALUES ('convert', 'user_logins', moved);
        -- Every privilege on the old table, to whoever held it (the owner's own excepted).
        FOR acl IN
          SELECT a.privilege_type, a.grantee, a.is_grantable, NULL::name AS col
            FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.oid = 'user_logins_unpartitioned'::regclass AND a.grantee <> c.relowner
          UNION ALL
          SELECT a.privilege_type, a.grantee, a.is_grantable, att.attname
            FROM pg_attribute att, aclexplode(att.attacl) a
           WHERE att.attrelid = 'user_logins_unpartitioned'::regclass AND att.attacl IS NOT NULL
        LOOP
          EXECUTE format('GRANT %s %s ON user_logins TO %s %s', acl.privilege_type,
                         CASE WHEN acl.col IS NULL THEN '' ELSE format('(%I)', acl.col) END,
                         CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END,
                         CASE WHEN acl.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        CREATE OR REPLACE VIEW user_logins_analytics AS
          SELECT user_id, device_type, masked_ip, masked_device_id, locale, app_version, create_date,
                 message_id, key_id, app_version_raw, ingested_at
          FROM user_logins;
        DROP TABLE user_logins_unpartitioned;
      END
      $partition$;
      -- One row per message: the partition key must be part of a partitioned unique index, and
      -- create_date is the first send date, which every redelivery and redrive keeps.
      CREATE UNIQUE INDEX IF NOT EXISTS user_logins_message_id_create_date_key
        ON user_logins (message_id, create_date);
      -- Analyst queries and unmask: by token, within a date range (partitions pruned by date).
      CREATE INDEX IF NOT EXISTS user_logins_masked_ip_idx ON user_logins (masked_ip, create_date);
      CREATE INDEX IF NOT EXISTS user_logins_masked_device_id_idx ON user_logins (masked_device_id, create_date);
      -- Erasure (npm run forget) finds one user's rows.
      CREATE INDEX IF NOT EXISTS user_logins_user_id_idx ON user_logins (user_id);
    `,
  },
  {
    version: 5,
    name: 'operator_role',
    sql: `
      -- The operations function's own login: unmask (read the sealed PII, append to the audit
      -- trail, as login_queue_recovery) and rekey (rewrite the tokens and their key id).
      -- Cluster-wide; created when this user may create roles, granted whenever it exists.
      DO $operator$
      BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
          BEGIN
            CREATE ROLE ${OPERATOR_ROLE} LOGIN;
          EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
          END;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${OPERATOR_ROLE}') THEN
          RAISE NOTICE 'login-queue: no CREATEROLE; role ${OPERATOR_ROLE} not created';
          RETURN;
        END IF;
        REVOKE ALL ON user_logins FROM ${OPERATOR_ROLE};
        REVOKE ALL ON pii_recovery_audit FROM ${OPERATOR_ROLE};
        -- Membership takes ADMIN on login_queue_recovery (its creator has it): without it,
        -- a DBA grants it, and the migration still applies.
        BEGIN
          GRANT login_queue_recovery TO ${OPERATOR_ROLE};
        EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
          RAISE NOTICE 'login-queue: login_queue_recovery not granted to ${OPERATOR_ROLE}; it cannot unmask';
        END;
        -- rekey's UPDATE sets these three; it reads (message_id, key_id, the sealed PII)
        -- through login_queue_recovery's SELECT. No other column, no DELETE.
        GRANT UPDATE (masked_ip, masked_device_id, key_id) ON user_logins TO ${OPERATOR_ROLE};
        -- RDS: the role then logs in with IAM tokens only. rds_iam exists only there.
        BEGIN
          GRANT rds_iam TO ${OPERATOR_ROLE};
        EXCEPTION WHEN undefined_object OR unique_violation THEN NULL;
        END;
      END
      $operator$;
    `,
  },
  {
    version: 6,
    name: 'erasure',
    sql: `
      -- One row per erasure (npm run forget): who, when, why, what went. The user is named by
      -- a keyed token (HMAC under the masking ring's current key, HKDF info
      -- "login-queue/v1/user_id"), never by the id itself: this table outlives the rows.
      CREATE TABLE IF NOT EXISTS erasure_audit (
        id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at                   timestamptz NOT NULL DEFAULT now(),
        db_user              text NOT NULL DEFAULT session_user,
        operator             text NOT NULL,
        user_token           text NOT NULL,
        reason               text NOT NULL,
        rows_deleted         bigint NOT NULL,
        dead_letters_matched integer NOT NULL,
        dead_letters_deleted integer NOT NULL
      );
      -- The operations function's login may erase: delete a user's rows (the sealed PII is on
      -- them), found by user_id, and append to the erasure audit (at and db_user keep their
      -- defaults: it cannot forge them). Granted whenever the role exists (migration 5).
      DO $erasure$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${OPERATOR_ROLE}') THEN
          RAISE NOTICE 'login-queue: role ${OPERATOR_ROLE} does not exist; erasure not granted';
          RETURN;
        END IF;
        GRANT DELETE ON user_logins TO ${OPERATOR_ROLE};
        GRANT SELECT (user_id) ON user_logins TO ${OPERATOR_ROLE};
        GRANT INSERT (operator, user_token, reason, rows_deleted, dead_letters_matched,
                      dead_letters_deleted) ON erasure_audit TO ${OPERATOR_ROLE};
      END
      $erasure$;
    `,
  },
  {
    version: 7,
    name: 'user_logins_date_covering_index',
    sql: `
      -- The 7-day duplicate queries (README, Queries and their plans): an index-only scan of
      -- the days asked for, where a monthly partition would otherwise be read whole; one index
      -- for the ip and the device query. Builds under a SHARE lock: writers wait while it
      -- builds (README, Schema).
      CREATE INDEX IF NOT EXISTS user_logins_create_date_tokens_idx
        ON user_logins (create_date) INCLUDE (masked_ip, masked_device_id, user_id);
    `,
  },
  {
    version: 8,
    name: 'erasure_without_dlq',
    sql: `
      -- An erasure without a dead-letter queue to check (npm run forget with no DLQ) records
      -- its dead-letter counts as NULL: not checked, which 0 would misstate.
      ALTER TABLE erasure_audit
        ALTER COLUMN dead_letters_matched DROP NOT NULL,
        ALTER COLUMN dead_letters_deleted DROP NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'analyst_sign_in',
    sql: `
      -- People sign in as ${ANALYST_ROLE} (npm run db:connect): locally with a password set
      -- through the admin connection, on RDS with an IAM token, which rds_iam makes the only way.
      -- ${OPERATOR_ROLE} gets nothing here: it has LOGIN and rds_iam for the operations
      -- function (migration 5), and people act as it only through that function, which audits
      -- each call; signing in as it directly would bypass that audit.
      DO $analyst$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ANALYST_ROLE}') THEN
          RAISE NOTICE 'login-queue: role ${ANALYST_ROLE} does not exist; analyst sign-in not set up';
          RETURN;
        END IF;
        -- Roles are cluster-wide: only when this user may (CREATEROLE, and on PostgreSQL 16+
        -- ADMIN on the role, which its creator has); else a DBA runs ALTER ROLE ... LOGIN.
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ANALYST_ROLE}' AND rolcanlogin) THEN
          BEGIN
            ALTER ROLE ${ANALYST_ROLE} LOGIN;
          EXCEPTION
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'login-queue: may not alter role ${ANALYST_ROLE}; it cannot log in until a DBA gives it LOGIN';
            -- "tuple concurrently updated": another database of the cluster migrating at the
            -- same moment; fine if that one gave LOGIN.
            WHEN internal_error THEN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ANALYST_ROLE}' AND rolcanlogin) THEN
                RAISE;
              END IF;
          END;
        END IF;
        -- RDS: the role then logs in with IAM tokens only. rds_iam exists only there.
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
          BEGIN
            GRANT rds_iam TO ${ANALYST_ROLE};
          EXCEPTION
            WHEN unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
              RAISE NOTICE 'login-queue: may not grant rds_iam; ${ANALYST_ROLE} cannot sign in with IAM until a DBA grants it';
          END;
        END IF;
      END
      $analyst$;
    `,
  },
  {
    version: 10,
    name: 'analyst_session_settings',
    sql: `
      -- ${ANALYST_ROLE}'s own session settings, over the server's (infra/rds-database.ts:
      -- idle sessions end after 10 minutes, idle transactions after 1, for the function's
      -- pooled connections): long enough that an analyst is not cut off while reading a
      -- result, bounded so that a query cannot run away on the instance the pipeline writes to.
      DO $analyst_settings$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ANALYST_ROLE}') THEN
          RAISE NOTICE 'login-queue: role ${ANALYST_ROLE} does not exist; its session settings not set';
          RETURN;
        END IF;
        -- Roles are cluster-wide: only when this user may (CREATEROLE, as the RDS master user
        -- has, and on PostgreSQL 16+ ADMIN on the role); else a DBA runs these ALTER ROLEs.
        BEGIN
          ALTER ROLE ${ANALYST_ROLE} SET statement_timeout = '15min';
          ALTER ROLE ${ANALYST_ROLE} SET idle_in_transaction_session_timeout = '10min';
          -- idle_session_timeout exists from PostgreSQL 14; before, idle sessions stay open.
          IF current_setting('server_version_num')::int >= 140000 THEN
            ALTER ROLE ${ANALYST_ROLE} SET idle_session_timeout = '1h';
          END IF;
        EXCEPTION
          WHEN insufficient_privilege THEN
            RAISE NOTICE 'login-queue: may not alter role ${ANALYST_ROLE}; its sessions keep the server''s timeouts until a DBA sets its own';
          -- "tuple concurrently updated" or a duplicate key: another database of the cluster
          -- migrating at the same moment; fine if that one set the same values.
          WHEN internal_error OR unique_violation THEN
            IF NOT EXISTS (
              SELECT FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
              WHERE r.rolname = '${ANALYST_ROLE}' AND s.setdatabase = 0
                AND s.setconfig @> ARRAY['statement_timeout=15min',
                  'idle_in_transaction_session_timeout=10min']
            ) THEN
              RAISE;
            END IF;
        END;
      END
      $analyst_settings$;
    `,
  },
];
