/**
 * The names of the environment variables the stack sets and the functions read, shared by the
 * stack (infra/) and the one reader of the environment (lambda/functions/config.ts), so that a
 * rename fails to compile instead of failing at deploy. No imports.
 */

/** Every variable lambda/functions/config.ts reads; the configuration reference lists each. */
export const Env = {
  DATABASE_URL: 'DATABASE_URL',
  DB_HOST: 'DB_HOST',
  DB_PORT: 'DB_PORT',
  DB_NAME: 'DB_NAME',
  DB_USER: 'DB_USER',
  DB_SSL: 'DB_SSL',
  DB_AUTH: 'DB_AUTH',
  DB_PASSWORD_SECRET_ID: 'DB_PASSWORD_SECRET_ID',
  DB_QUERY_TIMEOUT_MS: 'DB_QUERY_TIMEOUT_MS',
  AWS_REGION: 'AWS_REGION',
  MASKING_SECRET_ID: 'MASKING_SECRET_ID',
  MASKING_KEY_TTL_SECONDS: 'MASKING_KEY_TTL_SECONDS',
  RECOVERY_SECRET_ID: 'RECOVERY_SECRET_ID',
  RECOVERY_PUBLIC_KEY: 'RECOVERY_PUBLIC_KEY',
  DLQ_URL: 'DLQ_URL',
  SOURCE_QUEUE_URL: 'SOURCE_QUEUE_URL',
  BACKOFF_BASE_SECONDS: 'BACKOFF_BASE_SECONDS',
  BACKOFF_MAX_SECONDS: 'BACKOFF_MAX_SECONDS',
  PARTITION_GRANULARITY: 'PARTITION_GRANULARITY',
  PARTITION_AHEAD_DAYS: 'PARTITION_AHEAD_DAYS',
  RETENTION_DAYS: 'RETENTION_DAYS',
  POWERTOOLS_SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
  POWERTOOLS_METRICS_NAMESPACE: 'POWERTOOLS_METRICS_NAMESPACE',
  OPERATOR_ROLE_ARN: 'OPERATOR_ROLE_ARN',
  AWS_ENDPOINT_URL_STS: 'AWS_ENDPOINT_URL_STS',
  AWS_ENDPOINT_URL: 'AWS_ENDPOINT_URL',
} as const;
export type EnvName = (typeof Env)[keyof typeof Env];

/**
 * Variables read by the runtime and the libraries, never by config.ts: Node, Powertools and the
 * AWS SDK. The stack sets some of them; the configuration reference may document them all.
 */
export const LibraryEnv = {
  NODE_OPTIONS: 'NODE_OPTIONS',
  NODE_EXTRA_CA_CERTS: 'NODE_EXTRA_CA_CERTS',
  POWERTOOLS_LOG_LEVEL: 'POWERTOOLS_LOG_LEVEL',
  POWERTOOLS_METRICS_DISABLED: 'POWERTOOLS_METRICS_DISABLED',
  AWS_ENDPOINT_URL_SQS: 'AWS_ENDPOINT_URL_SQS',
  AWS_ENDPOINT_URL_SECRETS_MANAGER: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
} as const;
export type LibraryEnvName = (typeof LibraryEnv)[keyof typeof LibraryEnv];

/** A function's environment, keyed by the names above only. */
export type FunctionEnvironment = Partial<Record<EnvName | LibraryEnvName, string>>;
