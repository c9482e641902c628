/**
 * The one reader of the environment: parses it once into a typed, frozen object and fails
 * fast with a ConfigError naming the variable. Env holds ARNs, names and URLs, never secrets
 * (DATABASE_URL may hold a password for local use; in AWS the function signs IAM tokens and
 * the migration reads the master password from a secret).
 */

import { Env, type EnvName } from '../contract/env';
import { NAMESPACE, SERVICE } from '../contract/metrics';
import { isRoleArn } from '../core/caller-proof';
import { ConfigError } from '../core/errors';
import type { DatabaseConfig, DatabaseServer, SslMode } from '../db/database-config';
import { Granularity, isGranularity } from '../db/granularity';
import type { MaintainOptions } from '../db/maintain';

export type { DatabaseConfig, SslMode } from '../db/database-config';

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

/** The process environment, or a test's stand-in; read by the names of the contract only. */
type Environment = Readonly<Record<string, string | undefined>>;

function required(env: Environment, name: EnvName): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function optional(env: Environment, name: EnvName): string | undefined {
  return env[name]?.trim() || undefined;
}

function integer(
  env: Environment,
  name: EnvName,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

function sslMode(env: Environment): SslMode {
  const raw = optional(env, Env.DB_SSL) ?? 'verify-full';
  if (raw === 'disable' || raw === 'require' || raw === 'verify-full') return raw;
  throw new ConfigError(`${Env.DB_SSL} must be disable, require or verify-full, got "${raw}"`);
}

/**
 * Reads only the database settings (the migration function needs no masking key).
 * DB_AUTH=iam selects IAM database authentication; otherwise the password is in a secret.
 */
export function loadDatabaseConfig(env: Environment = process.env): DatabaseConfig {
  const url = optional(env, Env.DATABASE_URL);
  if (url !== undefined) return Object.freeze({ kind: 'url', url });
  if (optional(env, Env.DB_HOST) === undefined) {
    throw new ConfigError(
      `set ${Env.DATABASE_URL}, or ${Env.DB_HOST} with ${Env.DB_NAME}, ${Env.DB_USER} and ${Env.DB_PASSWORD_SECRET_ID} (or ${Env.DB_AUTH}=iam)`,
    );
  }
  const server: DatabaseServer = {
    host: required(env, Env.DB_HOST),
    port: integer(env, Env.DB_PORT, 5432, 1, 65535),
    database: required(env, Env.DB_NAME),
    user: required(env, Env.DB_USER),
    ssl: sslMode(env),
  };
  const auth = optional(env, Env.DB_AUTH) ?? 'password';
  if (auth === 'password') {
    return Object.freeze({
      kind: 'secret',
      ...server,
      passwordSecretId: required(env, Env.DB_PASSWORD_SECRET_ID),
    });
  }
  if (auth !== 'iam')
    throw new ConfigError(`${Env.DB_AUTH} must be iam or password, got "${auth}"`);
  // RDS accepts IAM tokens over TLS only.
  if (server.ssl === 'disable')
    throw new ConfigError(`${Env.DB_AUTH}=iam needs ${Env.DB_SSL} other than disable`);
  return Object.freeze({ kind: 'iam', ...server, region: required(env, Env.AWS_REGION) });
}

/**
 * Powertools' standard settings, with this project's defaults when unset (the stack sets them
 * to the same values, which its alarms and dashboard use).
 */
export function loadTelemetryConfig(env: Environment = process.env): {
  readonly serviceName: string;
  readonly namespace: string;
} {
  return Object.freeze({
    serviceName: optional(env, Env.POWERTOOLS_SERVICE_NAME) ?? SERVICE,
    namespace: optional(env, Env.POWERTOOLS_METRICS_NAMESPACE) ?? NAMESPACE,
  });
}

/** Reads the scheduled maintenance's settings (lambda/db/maintain.ts). */
export function loadMaintenanceConfig(env: Environment = process.env): MaintainOptions {
  const granularity = optional(env, Env.PARTITION_GRANULARITY) ?? Granularity.Month;
  if (!isGranularity(granularity)) {
    throw new ConfigError(
      `${Env.PARTITION_GRANULARITY} must be month or day, got "${granularity}"`,
    );
  }
  const retention = optional(env, Env.RETENTION_DAYS);
  return Object.freeze({
    retentionDays:
      retention === undefined ? undefined : integer(env, Env.RETENTION_DAYS, 0, 1, 36_500),
    aheadDays: integer(env, Env.PARTITION_AHEAD_DAYS, 90, 1, 3660),
    granularity,
  });
}

/** Reads the deploy-time secret initialiser's configuration. */
export function loadSecretInitConfig(env: Environment = process.env): {
  readonly maskingSecretId: string;
} {
  return Object.freeze({ maskingSecretId: required(env, Env.MASKING_SECRET_ID) });
}

/** Reads the handler's configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Environment = process.env): Config {
  return Object.freeze({
    database: Object.freeze(loadDatabaseConfig(env)),
    queryTimeoutMs: integer(env, Env.DB_QUERY_TIMEOUT_MS, 10_000, 100, 900_000),
    maskingSecretId: required(env, Env.MASKING_SECRET_ID),
    keyTtlMs: integer(env, Env.MASKING_KEY_TTL_SECONDS, 300, 0, 86_400) * 1000,
    deadLetterQueueUrl: optional(env, Env.DLQ_URL),
    recoveryPublicKey: optional(env, Env.RECOVERY_PUBLIC_KEY),
    sourceQueueUrl: optional(env, Env.SOURCE_QUEUE_URL),
    backoff: Object.freeze({
      // With the deployed queue (5 receives) these keep a record for over 2 h of outage.
      baseSeconds: integer(env, Env.BACKOFF_BASE_SECONDS, 30, 1, 43_200),
      maxSeconds: integer(env, Env.BACKOFF_MAX_SECONDS, 300, 1, 43_200),
    }),
  });
}

/**
 * STS's endpoint, resolved as the AWS SDK resolves it: AWS_ENDPOINT_URL_STS (a local stand-in
 * in tests), else AWS_ENDPOINT_URL (LocalStack sets it in its functions), else the regional
 * endpoint of AWS_REGION (in the VPC, its interface endpoint answers that name).
 */
export function stsEndpoint(env: Environment = process.env): URL {
  const raw = optional(env, Env.AWS_ENDPOINT_URL_STS) ?? optional(env, Env.AWS_ENDPOINT_URL);
  if (raw === undefined)
    return new URL(`https://sts.${required(env, Env.AWS_REGION)}.amazonaws.com/`);
  try {
    const url = new URL(raw);
    if (url.protocol === 'https:' || url.protocol === 'http:') return url;
  } catch {
    // named below
  }
  throw new ConfigError(
    `${Env.AWS_ENDPOINT_URL_STS} (or ${Env.AWS_ENDPOINT_URL}) must be an http(s) URL, got "${raw}"`,
  );
}

/** The operations function's configuration (lambda/functions/operations.ts). Throws ConfigError naming the variable. */
export function loadOperationsConfig(env: Environment = process.env) {
  const operatorRoleArn = required(env, Env.OPERATOR_ROLE_ARN);
  if (!isRoleArn(operatorRoleArn))
    throw new ConfigError(
      `${Env.OPERATOR_ROLE_ARN} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got "${operatorRoleArn}"`,
    );
  return Object.freeze({
    /** Only sessions of this role may call the function (caller-proof.ts). */
    operatorRoleArn,
    stsEndpoint: stsEndpoint(env),
    database: Object.freeze(loadDatabaseConfig(env)),
    maskingSecretId: required(env, Env.MASKING_SECRET_ID),
    recoverySecretId: required(env, Env.RECOVERY_SECRET_ID),
    deadLetterQueueUrl: required(env, Env.DLQ_URL),
    sourceQueueUrl: required(env, Env.SOURCE_QUEUE_URL),
  });
}
