/**
 * The pipeline on AWS: SQS queue + DLQ -> Lambda (partial batch failures) -> RDS PostgreSQL,
 * the masking key in Secrets Manager, schema migrations at deploy time, alarms and a
 * dashboard. `target: 'localstack'` builds the same stack without VPC and RDS, pointed at
 * an existing PostgreSQL.
 */
import {
  Annotations,
  CfnOutput,
  Duration,
  Fn,
  type RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import {
  AccountRootPrincipal,
  ArnPrincipal,
  CompositePrincipal,
  type IPrincipal,
  ManagedPolicy,
  PolicyStatement,
  Role,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { EventSourceMapping, FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Trigger } from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { FIRST_VERSION } from '../lambda/aws/secret-init';
import { NAMESPACE, SERVICE } from '../lambda/contract/metrics';
import { OPERATOR_ROLE, WRITER_ROLE } from '../lambda/contract/roles';
import { parseRecoveryPublicKey } from '../lambda/core/recovery';
import { DATABASE_NAME, DATABASE_USER, LoginDatabase } from './database';
import { type DatabaseSizing, resolveDatabaseSizing } from './database-sizing';
import { loginQueueFunction } from './function-defaults';
import { KeyAlerts } from './key-alerts';
import { allowSecretUse, keySecret, restrictedKey, SECRET_USE } from './keys';
import { retainFunctionLogs } from './log-retention';
import { Monitoring } from './monitoring';

/** An existing PostgreSQL for the LocalStack target (RDS is a paid LocalStack feature). */
export interface ExternalDatabase {
  readonly host: string;
  /** @default 5432 */
  readonly port?: number;
  readonly name: string;
  readonly user: string;
  /** Stored in a Secrets Manager secret of the stack: for local development only. */
  readonly password: string;
}

export interface LoginQueueStackProps extends StackProps {
  /** @default 'aws' */
  readonly target?: 'aws' | 'localstack';
  /** Required with target 'localstack'. */
  readonly externalDatabase?: ExternalDatabase;
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
}

const roleOf = (fn: { role?: IPrincipal }): IPrincipal => {
  if (fn.role === undefined) throw new Error('the function has no execution role');
  return fn.role;
};

function check(ok: boolean, message: string): void {
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
  return {
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

export class LoginQueueStack extends Stack {
  constructor(scope: Construct, id: string, props: LoginQueueStackProps = {}) {
    super(scope, id, props);
    const target = props.target ?? 'aws';
    const settings = resolveProps(props);

    // The bodies are raw PII: a customer-managed key, so reading them takes a grant on it.
    const queueKey = new Key(this, 'QueueKey', {
      description: 'login-queue: message bodies (raw PII) in the queue and its DLQ',
      enableKeyRotation: true,
    });
    const deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      visibilityTimeout: settings.visibility,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    // For whoever sends login events: SSE-KMS needs the key's data-key actions too.
    const producer = new ManagedPolicy(this, 'ProducerPolicy', {
      description: 'Attach to the producers of login events: send to the login queue',
      statements: [
        new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
        new PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [queueKey.keyArn],
        }),
      ],
    });

    // The masking key ring: its first value is written at deploy time by the SecretInit
    // trigger (lambda/aws/secret-init.ts), never by CloudFormation. With the HMAC key every IPv4
    // token can be reversed by brute force, so its KMS key names each principal that may use it.
    const maskingKey = restrictedKey(
      this,
      'MaskingSecretKey',
      'login-queue: the masking key ring secret (HMAC keys)',
    );
    const maskingSecret = keySecret(
      this,
      'MaskingKey',
      'login-queue masking key ring (HMAC keys for ip and device_id tokens)',
      maskingKey,
    );

    let databaseEnvironment: Record<string, string>;
    let databaseSecret: Secret | LoginDatabase['secret'];
    let database: LoginDatabase | undefined;
    if (target === 'aws') {
      database = new LoginDatabase(this, 'Database', {
        sizing: settings.database ?? resolveDatabaseSizing(),
        removalPolicy: props.databaseRemovalPolicy,
      });
      databaseSecret = database.secret;
      databaseEnvironment = {
        DB_HOST: database.instance.dbInstanceEndpointAddress,
        DB_PORT: database.instance.dbInstanceEndpointPort,
        DB_NAME: DATABASE_NAME,
        DB_USER: DATABASE_USER,
        DB_SSL: 'verify-full',
        // The runtime's CA bundle holds the RDS CAs; Node 20+ runtimes do not load it by default.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      };
    } else {
      const external = props.externalDatabase;
      check(
        external !== undefined,
        "target 'localstack' needs externalDatabase (host, name, user, password)",
      );
      const db = external as ExternalDatabase;
      databaseSecret = new Secret(this, 'DatabaseCredentials', {
        description: 'login-queue PostgreSQL password (LocalStack target, development only)',
        secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ password: db.password })),
      });
      databaseEnvironment = {
        DB_HOST: db.host,
        DB_PORT: String(db.port ?? 5432),
        DB_NAME: db.name,
        DB_USER: db.user,
        DB_SSL: 'disable',
      };
    }
    // The function may seal but never open: it gets the public key, not the recovery secret,
    // which stays empty until an operator stores the ring from npm run recovery:keygen.
    const recoveryKey = restrictedKey(
      this,
      'RecoverySecretKey',
      'login-queue: the recovery private key secret (only the recovery operator role decrypts)',
    );
    const recoverySecret = keySecret(
      this,
      'RecoveryKey',
      'login-queue recovery private key ring (X25519); fill it with npm run recovery:keygen',
      recoveryKey,
    );
    const operators: IPrincipal =
      props.recoveryOperators && props.recoveryOperators.length > 0
        ? new CompositePrincipal(...props.recoveryOperators.map((arn) => new ArnPrincipal(arn)))
        : new AccountRootPrincipal();
    const recoveryOperatorRole = new Role(this, 'RecoveryOperatorRole', {
      assumedBy: operators,
      description:
        'login-queue: recover PII, re-key, redrive (through the operations function), store and rotate the key secrets',
      maxSessionDuration: Duration.hours(1),
    });
    const recoveryOperator = new ManagedPolicy(this, 'RecoveryOperatorPolicy', {
      description:
        'The recovery operator role: read and write the recovery and masking key secrets',
      statements: [
        new PolicyStatement({
          actions: [
            'secretsmanager:GetSecretValue',
            'secretsmanager:DescribeSecret',
            'secretsmanager:PutSecretValue',
          ],
          resources: [recoverySecret.secretArn, maskingSecret.secretArn],
        }),
      ],
      roles: [recoveryOperatorRole],
    });
    for (const [key, sid] of [
      [recoveryKey, 'RecoveryOperatorUsesRecoveryKey'],
      [maskingKey, 'RecoveryOperatorUsesMaskingKey'],
    ] as const) {
      allowSecretUse(key, sid, recoveryOperatorRole, [...SECRET_USE.read, ...SECRET_USE.write]);
    }
    if (props.recoveryPublicKey !== undefined) parseRecoveryPublicKey(props.recoveryPublicKey);

    const telemetry = {
      POWERTOOLS_SERVICE_NAME: SERVICE,
      POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    // The master credentials are the migration's alone. On AWS the function logs in as its own
    // role with an IAM token (lambda/contract/roles.ts); on LocalStack, with the given password.
    const masterEnvironment = {
      ...databaseEnvironment,
      DB_PASSWORD_SECRET_ID: databaseSecret.secretArn,
      ...telemetry,
    };
    const handlerDatabase: Record<string, string> =
      database === undefined
        ? { DB_PASSWORD_SECRET_ID: databaseSecret.secretArn }
        : { DB_AUTH: 'iam', DB_USER: WRITER_ROLE };
    // Inside the VPC each function's security group allows egress only where it is granted.
    const network = database && {
      vpc: database.vpc,
      vpcSubnets: database.vpc.selectSubnets(),
      allowAllOutbound: false,
    };

    const handler = loginQueueFunction(this, 'Handler', {
      entry: 'handler',
      xray: props.tracing,
      description: 'SQS login events -> masked rows in PostgreSQL',
      timeout: settings.timeout,
      environment: {
        ...databaseEnvironment,
        ...handlerDatabase,
        ...telemetry,
        MASKING_SECRET_ID: maskingSecret.secretArn,
        DLQ_URL: deadLetterQueue.queueUrl,
        SOURCE_QUEUE_URL: queue.queueUrl,
        ...(props.recoveryPublicKey ? { RECOVERY_PUBLIC_KEY: props.recoveryPublicKey } : {}),
      },
      ...network,
    });
    maskingSecret.grantRead(handler);
    allowSecretUse(maskingKey, 'HandlerReadsMaskingKeyRing', roleOf(handler), SECRET_USE.read);
    if (database === undefined) databaseSecret.grantRead(handler);
    else database.instance.grantConnect(handler, WRITER_ROLE);
    deadLetterQueue.grantSendMessages(handler);
    // The handler backs records off (and deletes those already dead-lettered) itself when a
    // batch fails for a systemic reason; stated here rather than left to the event source's grant.
    queue.grant(handler, 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage');
    handler.addEventSource(
      new SqsEventSource(queue, {
        batchSize: settings.batchSize,
        maxBatchingWindow: settings.window,
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );

    const migrate = loginQueueFunction(this, 'Migrate', {
      entry: 'migrate',
      xray: props.tracing,
      description:
        'login-queue schema migrations and partition maintenance (at deploy time, then daily)',
      timeout: Duration.minutes(5),
      environment: {
        ...masterEnvironment,
        PARTITION_GRANULARITY: settings.granularity,
        ...(settings.retentionDays === undefined
          ? {}
          : { RETENTION_DAYS: String(settings.retentionDays) }),
      },
      ...network,
    });
    if (settings.retentionDays === undefined) {
      Annotations.of(this).addWarningV2(
        'login-queue:retention',
        'No retentionDays: user_logins keeps its PII forever. Set -c retentionDays=<days> to drop old partitions daily.',
      );
    }
    // Daily: partitions ahead, default-partition rows placed, retention applied (db/maintain.ts).
    // The alarm MaintenanceNotSucceeding (Monitoring) watches that it keeps succeeding.
    new Rule(this, 'MaintainDaily', {
      description: 'login-queue: partition maintenance and PII retention',
      schedule: Schedule.cron({ minute: '17', hour: '3' }),
      targets: [new LambdaFunction(migrate, { retryAttempts: 2 })],
    });
    // The schedule invokes the unqualified function, never a version or alias.
    Annotations.of(migrate).acknowledgeWarning(
      '@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
      'EventBridge invokes the unqualified function ARN; no version or alias is called.',
    );
    databaseSecret.grantRead(migrate);
    if (database !== undefined) {
      database.allowFrom(handler);
      database.allowFrom(migrate);
      database.allowEndpointsFrom(handler, 'secretsManager', 'sqs');
      database.allowEndpointsFrom(migrate, 'secretsManager');
    }
    // Runs the migrations during deployment, before the event source mapping exists, so the
    // first message never races the schema; a failing migration fails the deployment.
    const trigger = new Trigger(this, 'MigrateOnDeploy', {
      handler: migrate,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
      executeAfter: database ? [database] : [],
    });
    // Its own security group's egress rules live beside the function, outside the database.
    database?.orderAfterNetwork(trigger, migrate, 'secretsManager');
    // Only the mapping waits for the schema (the whole function would form a cycle with the
    // database security group rule that names the function's security group).
    const mapping = handler.node.children.find((child) => child instanceof EventSourceMapping);
    if (mapping === undefined) throw new Error('the handler has no event source mapping');
    trigger.executeBefore(mapping);

    // Gives the masking key secret its first key ring, once; a stored ring is never touched.
    const secretInit = loginQueueFunction(this, 'SecretInit', {
      entry: 'secret-init',
      xray: props.tracing,
      description: 'login-queue: writes the first masking key ring (run at deploy time)',
      timeout: Duration.minutes(1),
      environment: {
        MASKING_SECRET_ID: maskingSecret.secretArn,
        POWERTOOLS_SERVICE_NAME: SERVICE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    });
    secretInit.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:PutSecretValue'],
        resources: [maskingSecret.secretArn],
      }),
    );
    // Encrypting the first version only (lambda/aws/secret-init.ts): once it exists KMS refuses the
    // initialiser every other version and Secrets Manager refuses to rewrite that one, so the
    // grant is spent with the first value; DescribeSecret is all it keeps. No kms:Decrypt: it
    // never reads the ring, not even to compare a repeated write.
    maskingKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'InitialiserWritesFirstKeyRing',
        principals: [roleOf(secretInit)],
        actions: [...SECRET_USE.write],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${this.region}.${this.urlSuffix}`,
            'kms:EncryptionContext:SecretVersionId': FIRST_VERSION,
          },
        },
      }),
    );
    new Trigger(this, 'InitialiseSecretsOnDeploy', {
      handler: secretInit,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(1),
    }).executeBefore(mapping);

    // The operator commands, run where the data is: inside the VPC, called through a function
    // URL that only the recovery operator role may invoke (SigV4, AuthType AWS_IAM).
    const ops = loginQueueFunction(this, 'Operations', {
      entry: 'ops',
      xray: props.tracing,
      description:
        'login-queue operations: unmask, rekey, DLQ peek and redrive, forget (function URL, IAM)',
      // rekey runs in bounded batches and resumes where a timed-out run stopped.
      timeout: Duration.minutes(15),
      environment: {
        ...databaseEnvironment,
        ...(database === undefined
          ? { DB_PASSWORD_SECRET_ID: databaseSecret.secretArn }
          : { DB_AUTH: 'iam', DB_USER: OPERATOR_ROLE }),
        ...telemetry,
        MASKING_SECRET_ID: maskingSecret.secretArn,
        RECOVERY_SECRET_ID: recoverySecret.secretArn,
        DLQ_URL: deadLetterQueue.queueUrl,
        SOURCE_QUEUE_URL: queue.queueUrl,
        // Only this role's sessions may call, as STS names them from each request's proof.
        OPERATOR_ROLE_ARN: recoveryOperatorRole.roleArn,
      },
      ...network,
    });
    ops.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [recoverySecret.secretArn, maskingSecret.secretArn],
      }),
    );
    allowSecretUse(recoveryKey, 'OperationsReadsRecoveryKeyRing', roleOf(ops), SECRET_USE.read);
    allowSecretUse(maskingKey, 'OperationsReadsMaskingKeyRing', roleOf(ops), SECRET_USE.read);
    if (database === undefined) databaseSecret.grantRead(ops);
    else database.instance.grantConnect(ops, OPERATOR_ROLE);
    // Peek, redrive and forget: receive, release, delete and move on the DLQ; send to the
    // source queue (redrive).
    deadLetterQueue.grantConsumeMessages(ops);
    deadLetterQueue.grant(ops, 'sqs:StartMessageMoveTask');
    queue.grantSendMessages(ops);
    const opsUrl = ops.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    // lambda:InvokeFunctionUrl, and lambda:InvokeFunction only when invoked via the URL (both
    // needed for URLs created since October 2025), on the role's own policy alone.
    opsUrl.grantInvokeUrl(recoveryOperatorRole);
    if (database !== undefined) {
      database.allowFrom(ops);
      database.allowEndpointsFrom(ops, 'secretsManager', 'sqs', 'sts');
    }

    Validations.of(recoverySecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The recovery key pair is generated offline (npm run recovery:keygen) and rotated by the documented procedure; Secrets Manager cannot generate X25519 keys.',
    });
    Validations.of(maskingSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The masking key is a key ring rotated by the documented procedure (new key id, then re-key); an automatic rotation would silently change every token.',
    });
    if (target === 'localstack') {
      Validations.of(databaseSecret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason: 'LocalStack target: the password of a local development PostgreSQL.',
      });
    }
    for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
      Validations.of(ops).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason:
          "From grantSendMessages on the SSE-KMS source queue (redrive): the data-key actions SQS needs, on the queue's key alone.",
      });
      Validations.of(handler).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason:
          "From grantSendMessages on the SSE-KMS dead-letter queue: the data-key actions SQS needs, on the queue's key alone.",
      });
    }
    for (const fn of props.tracing ? [handler, migrate, secretInit, ops] : []) {
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords name no resource.",
      });
    }
    for (const fn of [handler, migrate, secretInit, ops]) {
      for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        Validations.of(fn).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
          reason:
            'The AWS-managed Lambda execution policies grant only log writing and VPC network interfaces, which the function needs.',
        });
      }
    }

    const monitoring = new Monitoring(this, 'Monitoring', {
      queue,
      deadLetterQueue,
      handler,
      handlerLogGroup: handler.logGroup,
      handlerTimeout: settings.timeout,
      maxMessageAge: props.maxMessageAge ?? Duration.minutes(15),
      alarmEmail: props.alarmEmail,
      database: database && {
        instance: database.instance,
        sizing: database.sizing,
        rotationFailed: database.rotationFailed,
      },
      // LocalStack's CloudFormation drops dashboards without a word: leave it out there.
      dashboard: target === 'aws',
    });

    // LocalStack delivers no CloudTrail events to EventBridge: nothing there to watch.
    if (target === 'aws') {
      new KeyAlerts(this, 'KeyAlerts', {
        keys: [queueKey, maskingKey, recoveryKey],
        topic: monitoring.topic,
      });
    }

    retainFunctionLogs(this, RetentionDays.ONE_MONTH);

    new CfnOutput(this, 'QueueUrl', { value: queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetterQueue.queueUrl });
    new CfnOutput(this, 'MaskingSecretArn', { value: maskingSecret.secretArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: databaseSecret.secretArn });
    new CfnOutput(this, 'DatabaseEndpoint', {
      value: database
        ? database.instance.dbInstanceEndpointAddress
        : (props.externalDatabase?.host ?? ''),
    });
    new CfnOutput(this, 'HandlerName', { value: handler.functionName });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.topic.topicArn });
    new CfnOutput(this, 'RecoveryKeySecretArn', { value: recoverySecret.secretArn });
    new CfnOutput(this, 'RecoveryOperatorPolicyArn', { value: recoveryOperator.managedPolicyArn });
    new CfnOutput(this, 'RecoveryOperatorRoleArn', { value: recoveryOperatorRole.roleArn });
    new CfnOutput(this, 'QueueKeyArn', { value: queueKey.keyArn });
    new CfnOutput(this, 'ProducerPolicyArn', { value: producer.managedPolicyArn });
    // The URL with the function's ARN, which the CLI binds each caller proof to.
    new CfnOutput(this, 'OpsFunctionUrl', {
      value: Fn.join('', [opsUrl.url, '?function=', ops.functionArn]),
    });
  }
}
