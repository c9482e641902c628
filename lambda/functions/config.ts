/**
 * The one reader of the environment: parses it once into a typed, frozen object and fails
 * fast with a ConfigError naming the variable. Env holds ARNs, names and URLs, never secrets
 * (DATABASE_URL may hold a password for local use; in AWS the function signs IAM tokens and
 * the migration reads the master password from a secret).
 */

import { NAMESPACE, SERVICE } from '../contract/metrics';
import { ConfigError } from '../core/errors';
import { Granularity, isGranularity } from '../db/granularity';
import type { MaintainOptions } from '../db/maintain';
import { isRoleArn } from '../ops/caller-proof';

export type SslMode = 'disable' | 'require' | 'verify-full';

interface DatabaseServer {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly ssl: SslMode;
}

export type DatabaseConfig =
  | { readonly kind: 'url'; readonly url: string }
  | (DatabaseServer & {
      readonly kind: 'secret';
      /** Secrets Manager id of a JSON secret with a `password` field (RDS-generated). */
      readonly passwordSecretId: string;
    })
  | (DatabaseServer & {
      /** IAM database authentication: a token signed locally per connection. */
      readonly kind: 'iam';
      readonly region: string;
    });

export interface Config {
  readonly database: DatabaseConfig;
  readonly queryTimeoutMs: number;
  readonly maskingSecretId: string;
  readonly keyTtlMs: number;
  /** Where invalid messages are sent with their reason; undefined = report them as failures. */
  readonly deadLetterQueueUrl: string | undefined;
  /** "<keyId>:<base64url X25519 public key>" to seal ip/device_id for recovery; undefined = off. */
  readonly recoveryPublicKey: string | undefined;
  /** The source queue's URL for visibility changes; undefined = derived from each record's ARN. */
  readonly sourceQueueUrl: string | undefined;
  /** Backoff of records whose batch failed for a systemic reason (see backoff.ts). */
  readonly backoff: { readonly baseSeconds: number; readonly maxSeconds: number };
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function optional(env: Env, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

function sslMode(env: Env): SslMode {
  const raw = optional(env, 'DB_SSL') ?? 'verify-full';
  if (raw === 'disable' || raw === 'require' || raw === 'verify-full') return raw;
  throw new ConfigError(`DB_SSL must be disable, require or verify-full, got "${raw}"`);
}

/**
 * Reads only the database settings (the migration function needs no masking key).
 * DB_AUTH=iam selects IAM database authentication; otherwise the password is in a secret.
 */
export function loadDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const url = optional(env, 'DATABASE_URL');
  if (url !== undefined) return Object.freeze({ kind: 'url', url });
  if (optional(env, 'DB_HOST') === undefined) {
    throw new ConfigError(
      'set DATABASE_URL, or DB_HOST with DB_NAME, DB_USER and DB_PASSWORD_SECRET_ID (or DB_AUTH=iam)',
    );
  }
  const server: DatabaseServer = {
    host: required(env, 'DB_HOST'),
    port: integer(env, 'DB_PORT', 5432, 1, 65535),
    database: required(env, 'DB_NAME'),
    user: required(env, 'DB_USER'),
    ssl: sslMode(env),
  };
  const auth = optional(env, 'DB_AUTH') ?? 'password';
  if (auth === 'password') {
    return Object.freeze({
      kind: 'secret',
      ...server,
      passwordSecretId: required(env, 'DB_PASSWORD_SECRET_ID'),
    });
  }
  if (auth !== 'iam') throw new ConfigError(`DB_AUTH must be iam or password, got "${auth}"`);
  // RDS accepts IAM tokens over TLS only.
  if (server.ssl === 'disable')
    throw new ConfigError('DB_AUTH=iam needs DB_SSL other than disable');
  return Object.freeze({ kind: 'iam', ...server, region: required(env, 'AWS_REGION') });
}

/**
 * Powertools' standard settings, with this project's defaults when unset (the stack sets them
 * to the same values, which its alarms and dashboard use).
 */
export function loadTelemetryConfig(env: Env = process.env): {
  readonly serviceName: string;
  readonly namespace: string;
} {
  return Object.freeze({
    serviceName: optional(env, 'POWERTOOLS_SERVICE_NAME') ?? SERVICE,
    namespace: optional(env, 'POWERTOOLS_METRICS_NAMESPACE') ?? NAMESPACE,
  });
}

/** Reads the scheduled maintenance's settings (lambda/db/maintain.ts). */
export function loadMaintenanceConfig(env: Env = process.env): MaintainOptions {
  const granularity = optional(env, 'PARTITION_GRANULARITY') ?? Granularity.Month;
  if (!isGranularity(granularity)) {
    throw new ConfigError(`PARTITION_GRANULARITY must be month or day, got "${granularity}"`);
  }
  const retention = optional(env, 'RETENTION_DAYS');
  return Object.freeze({
    retentionDays:
      retention === undefined ? undefined : integer(env, 'RETENTION_DAYS', 0, 1, 36_500),
    aheadDays: integer(env, 'PARTITION_AHEAD_DAYS', 90, 1, 3660),
    granularity,
  });
}

/** Reads the deploy-time secret initialiser's configuration. */
export function loadSecretInitConfig(env: Env = process.env): { readonly maskingSecretId: string } {
  return Object.freeze({ maskingSecretId: required(env, 'MASKING_SECRET_ID') });
}

/** Reads the handler's configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  return Object.freeze({
    database: Object.freeze(loadDatabaseConfig(env)),
    queryTimeoutMs: integer(env, 'DB_QUERY_TIMEOUT_MS', 10_000, 100, 900_000),
    maskingSecretId: required(env, 'MASKING_SECRET_ID'),
    keyTtlMs: integer(env, 'MASKING_KEY_TTL_SECONDS', 300, 0, 86_400) * 1000,
    deadLetterQueueUrl: optional(env, 'DLQ_URL'),
    recoveryPublicKey: optional(env, 'RECOVERY_PUBLIC_KEY'),
    sourceQueueUrl: optional(env, 'SOURCE_QUEUE_URL'),
    backoff: Object.freeze({
      // With the deployed queue (5 receives) these keep a record for over 2 h of outage.
      baseSeconds: integer(env, 'BACKOFF_BASE_SECONDS', 30, 1, 43_200),
      maxSeconds: integer(env, 'BACKOFF_MAX_SECONDS', 300, 1, 43_200),
    }),
  });
}

/**
 * STS's endpoint, resolved as the AWS SDK resolves it: AWS_ENDPOINT_URL_STS (a local stand-in
 * in tests), else AWS_ENDPOINT_URL (LocalStack sets it in its functions), else the regional
 * endpoint of AWS_REGION (in the VPC, its interface endpoint answers that name).
 */
export function stsEndpoint(env: Env = process.env): URL {
  const raw = optional(env, 'AWS_ENDPOINT_URL_STS') ?? optional(env, 'AWS_ENDPOINT_URL');
  if (raw === undefined)
    return new URL(`https://sts.${required(env, 'AWS_REGION')}.amazonaws.com/`);
  try {
    const url = new URL(raw);
    if (url.protocol === 'https:' || url.protocol === 'http:') return url;
  } catch {
    // named below
  }
  throw new ConfigError(
    `AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL) must be an http(s) URL, got "${raw}"`,
  );
}

/** The operations function's configuration (lambda/functions/operations.ts). Throws ConfigError naming the variable. */
export function loadOperationsConfig(env: Env = process.env) {
  const operatorRoleArn = required(env, 'OPERATOR_ROLE_ARN');
  if (!isRoleArn(operatorRoleArn))
    throw new ConfigError(
      `OPERATOR_ROLE_ARN must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${operatorRoleArn}"`,
    );
  return Object.freeze({
    /** Only sessions of this role may call the function (caller-proof.ts). */
    operatorRoleArn,
    stsEndpoint: stsEndpoint(env),
    database: Object.freeze(loadDatabaseConfig(env)),
    maskingSecretId: required(env, 'MASKING_SECRET_ID'),
    recoverySecretId: required(env, 'RECOVERY_SECRET_ID'),
    deadLetterQueueUrl: required(env, 'DLQ_URL'),
    sourceQueueUrl: required(env, 'SOURCE_QUEUE_URL'),
  });
}
