/**
 * The stack's props, their defaults, and their validation: every error states the value given,
 * the allowed range and the fix.
 */
import { Duration, type RemovalPolicy, type StackProps } from 'aws-cdk-lib';
import { type DatabaseSizing, resolveDatabaseSizing } from './database-sizing';
import type { ExternalDatabaseSettings } from './external-database';

export interface LoginQueueStackProps extends StackProps {
  /** @default 'aws' */
  readonly target?: 'aws' | 'localstack';
  /** Required with target 'localstack'. */
  readonly externalDatabase?: ExternalDatabaseSettings;
  /**
   * Receives before SQS moves a message to the DLQ. Invalid messages never need them (the
   * handler dead-letters those itself); they let a record back off through an outage: with the
   * function's backoff (30 s, 150 s, then 300 s per receive) 30 receives last 2 h 18 min.
   * @default 30
   */
  readonly maxReceiveCount?: number;
  /** Records per invocation, 1..10000. @default 100 */
  readonly batchSize?: number;
  /** How long Lambda gathers a batch; >= 1 s when batchSize > 10. @default 5 seconds */
  readonly maxBatchingWindow?: Duration;
  /** @default 60 seconds */
  readonly functionTimeout?: Duration;
  /** Source queue visibility timeout; must be >= 6 x functionTimeout + maxBatchingWindow. @default exactly that */
  readonly visibilityTimeout?: Duration;
  /** Concurrent invocations by the event source mapping, 2..1000. @default 10 */
  readonly maxConcurrency?: number;
  /**
   * Connections the database can give this pipeline (one per concurrent invocation).
   * @default on AWS, the instance class's max_connections less 13 kept back; on LocalStack 50
   */
  readonly databaseConnectionBudget?: number;
  /**
   * X-Ray active tracing on the functions: a trace per invocation (cost per trace; the SDK
   * calls inside are not traced). @default false
   */
  readonly tracing?: boolean;
  /** The RDS instance's class, availability, protection, storage and backups (AWS target). */
  readonly database?: DatabaseSizing;
  /** Alarm when the oldest queued message is older than this. @default 15 minutes */
  readonly maxMessageAge?: Duration;
  /** Also mail alarm notifications here (the SNS topic exists either way). @default none */
  readonly alarmEmail?: string;
  /** What happens to the database when the stack is deleted. @default RemovalPolicy.SNAPSHOT */
  readonly databaseRemovalPolicy?: RemovalPolicy;
  /**
   * The recovery public key from `npm run recovery:keygen` ("<keyId>:<base64url>"). The function
   * seals ip/device_id with it; only the private key, in the RecoveryKey secret, opens them.
   * @default none (no recovery data is written)
   */
  readonly recoveryPublicKey?: string;
  /**
   * IAM principals (ARNs) that may assume the recovery operator role, the only principal able
   * to decrypt the recovery key and to write the key secrets.
   * @default the account: any principal whose IAM policy allows sts:AssumeRole on the role
   */
  readonly recoveryOperators?: readonly string[];
  /**
   * PII retention: the daily maintenance drops user_logins partitions whose whole range is
   * older than this many days (1..36500). @default none: rows are kept (synthesis warns)
   */
  readonly retentionDays?: number;
  /** Size of the partitions maintenance creates. @default 'month' */
  readonly partitionGranularity?: 'month' | 'day';
  /**
   * A private path for analysts to the database (AWS target): 'ssm' adds a managed instance
   * for Session Manager port forwarding and the AnalystRole (docs/operations/analyst-access.md).
   * @default 'none'
   */
  readonly analystAccess?: 'none' | 'ssm';
  /**
   * IAM principals (ARNs) that may assume the AnalystRole (with analystAccess 'ssm').
   * @default the account: any principal whose IAM policy allows sts:AssumeRole on the role
   */
  readonly analysts?: readonly string[];
  /**
   * An RDS read replica of the instance for analysts' queries, which the analyst path then
   * reaches instead of the primary (needs analystAccess 'ssm'). @default false
   */
  readonly analystReplica?: boolean;
}

/** Throws `LoginQueueStack: <message>` unless `ok`. */
export function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`LoginQueueStack: ${message}`);
}

/** Validates props early; every error states the value, the allowed range and the fix. */
export function resolveProps(props: LoginQueueStackProps) {
  const maxReceiveCount = props.maxReceiveCount ?? 30;
  const batchSize = props.batchSize ?? 100;
  const window = props.maxBatchingWindow ?? Duration.seconds(5);
  const timeout = props.functionTimeout ?? Duration.seconds(60);
  const maxConcurrency = props.maxConcurrency ?? 10;
  const database =
    (props.target ?? 'aws') === 'aws'
      ? resolveDatabaseSizing(props.database, props.databaseConnectionBudget)
      : undefined;
  const budget = database?.connectionBudget ?? props.databaseConnectionBudget ?? 50;
  // AWS guidance: at least six times the function timeout, plus the batching window, so a
  // message is not redelivered while a throttled or retried invocation still holds it.
  const required = 6 * timeout.toSeconds() + window.toSeconds();
  const visibility = props.visibilityTimeout ?? Duration.seconds(required);
  check(
    Number.isInteger(maxReceiveCount) && maxReceiveCount >= 1 && maxReceiveCount <= 1000,
    `maxReceiveCount is ${maxReceiveCount}; use an integer in 1..1000`,
  );
  check(
    Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000,
    `batchSize is ${batchSize}; use an integer in 1..10000`,
  );
  check(
    batchSize <= 10 || window.toSeconds() >= 1,
    `batchSize ${batchSize} needs maxBatchingWindow >= 1 s (got ${window.toSeconds()} s); raise the window or use batchSize <= 10`,
  );
  check(
    window.toSeconds() <= 300,
    `maxBatchingWindow is ${window.toSeconds()} s; use at most 300 s`,
  );
  check(
    visibility.toSeconds() >= required && visibility.toSeconds() <= 43_200,
    `visibilityTimeout is ${visibility.toSeconds()} s but must be >= 6 x functionTimeout (${timeout.toSeconds()} s) + maxBatchingWindow (${window.toSeconds()} s) = ${required} s (and <= 43200 s); raise visibilityTimeout or lower functionTimeout`,
  );
  check(
    Number.isInteger(maxConcurrency) && maxConcurrency >= 2 && maxConcurrency <= 1000,
    `maxConcurrency is ${maxConcurrency}; the event source mapping accepts 2..1000`,
  );
  check(
    maxConcurrency <= budget,
    `maxConcurrency ${maxConcurrency} exceeds the database connection budget ${budget} (each invocation holds one connection); lower maxConcurrency, or choose a larger database instanceType`,
  );
  const { retentionDays } = props;
  check(
    retentionDays === undefined ||
      (Number.isInteger(retentionDays) && retentionDays >= 1 && retentionDays <= 36_500),
    `retentionDays is ${retentionDays}; use an integer in 1..36500 (days), or leave it unset to keep every row`,
  );
  const granularity = props.partitionGranularity ?? 'month';
  check(
    granularity === 'month' || granularity === 'day',
    `partitionGranularity is "${granularity}"; use month or day`,
  );
  const analystAccess = props.analystAccess ?? 'none';
  const onAws = (props.target ?? 'aws') === 'aws';
  check(
    analystAccess === 'none' || analystAccess === 'ssm',
    `analystAccess is "${analystAccess}"; use ssm, or none (the default)`,
  );
  check(
    analystAccess === 'none' || onAws,
    `analystAccess is "${analystAccess}" but the LocalStack target has no network to reach; analysts use psql on the local database, or leave analystAccess unset`,
  );
  check(
    props.analysts === undefined || analystAccess !== 'none',
    "analysts is set but analystAccess is none; set analystAccess to 'ssm' (-c analystAccess=ssm), or leave analysts unset",
  );
  check(
    props.analystReplica !== true || analystAccess !== 'none',
    "analystReplica needs analystAccess 'ssm' (nothing else reaches the replica); set -c analystAccess=ssm, or leave analystReplica unset",
  );
  return {
    analystAccess,
    analystReplica: props.analystReplica === true,
    maxReceiveCount,
    batchSize,
    window,
    timeout,
    visibility,
    maxConcurrency,
    database,
    retentionDays,
    granularity,
  };
}

/** The props with their defaults, validated. */
export type StackSettings = ReturnType<typeof resolveProps>;
