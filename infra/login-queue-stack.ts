/**
 * The pipeline on AWS: SQS queue + DLQ -> Lambda (partial batch failures) -> RDS PostgreSQL,
 * the masking key in Secrets Manager, schema migrations at deploy time, alarms and a
 * dashboard. `target: 'localstack'` builds the same stack without VPC and RDS, pointed at
 * an existing PostgreSQL.
 */
import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Trigger } from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { parseRecoveryPublicKey } from '../lambda/recovery';
import { DATABASE_NAME, DATABASE_USER, LoginDatabase } from './database';
import { loginQueueFunction } from './function-defaults';
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
  /** Receives before SQS moves a message to the DLQ. @default 5 */
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
  /** Connections the database can give this pipeline (one per concurrent invocation). @default 50 */
  readonly databaseConnectionBudget?: number;
  /** Alarm when the oldest queued message is older than this. @default 15 minutes */
  readonly maxMessageAge?: Duration;
  /** E-mail for alarm notifications; no SNS topic without it. @default none */
  readonly alarmEmail?: string;
  /** What happens to the database when the stack is deleted. @default RemovalPolicy.SNAPSHOT */
  readonly databaseRemovalPolicy?: RemovalPolicy;
  /**
   * The recovery public key from `npm run recovery:keygen` ("<keyId>:<base64url>"). The function
   * seals ip/device_id with it; only the private key, in the RecoveryKey secret, opens them.
   * @default none (no recovery data is written)
   */
  readonly recoveryPublicKey?: string;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`LoginQueueStack: ${message}`);
}

/** Validates props early; every error states the value, the allowed range and the fix. */
export function resolveProps(props: LoginQueueStackProps) {
  const maxReceiveCount = props.maxReceiveCount ?? 5;
  const batchSize = props.batchSize ?? 100;
  const window = props.maxBatchingWindow ?? Duration.seconds(5);
  const timeout = props.functionTimeout ?? Duration.seconds(60);
  const maxConcurrency = props.maxConcurrency ?? 10;
  const budget = props.databaseConnectionBudget ?? 50;
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
    `maxConcurrency ${maxConcurrency} exceeds databaseConnectionBudget ${budget} (each invocation holds one connection); lower maxConcurrency or raise the budget`,
  );
  return { maxReceiveCount, batchSize, window, timeout, visibility, maxConcurrency };
}

export class LoginQueueStack extends Stack {
  constructor(scope: Construct, id: string, props: LoginQueueStackProps = {}) {
    super(scope, id, props);
    const target = props.target ?? 'aws';
    const settings = resolveProps(props);

    const deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: settings.visibility,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    // Key material is generated by Secrets Manager at deploy time, in the format of
    // lambda/key-ring.ts: {"current": "k1", "k1": "<64 random alphanumerics>"}.
    const maskingSecret = new Secret(this, 'MaskingKey', {
      description: 'login-queue masking key ring (HMAC keys for ip and device_id tokens)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ current: 'k1' }),
        generateStringKey: 'k1',
        passwordLength: 64,
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    let databaseEnvironment: Record<string, string>;
    let databaseSecret: Secret | LoginDatabase['secret'];
    let database: LoginDatabase | undefined;
    if (target === 'aws') {
      database = new LoginDatabase(this, 'Database', {
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
    // The function may seal but never open: it gets the public key, not the recovery secret.
    const recoverySecret = new Secret(this, 'RecoveryKey', {
      description:
        'login-queue recovery private key ring (X25519); fill it with npm run recovery:keygen',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ current: 'r1' }),
        generateStringKey: 'uninitialised',
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const recoveryOperator = new ManagedPolicy(this, 'RecoveryOperatorPolicy', {
      description:
        'Attach to the people or roles allowed to recover PII and re-key (npm run unmask / rekey)',
      statements: [
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          resources: [recoverySecret.secretArn, maskingSecret.secretArn],
        }),
      ],
    });
    if (props.recoveryPublicKey !== undefined) parseRecoveryPublicKey(props.recoveryPublicKey);

    const environment = {
      ...databaseEnvironment,
      DB_PASSWORD_SECRET_ID: databaseSecret.secretArn,
      POWERTOOLS_SERVICE_NAME: 'login-queue',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    const network = database && { vpc: database.vpc, vpcSubnets: database.vpc.selectSubnets() };

    const handler = loginQueueFunction(this, 'Handler', {
      entry: 'handler',
      description: 'SQS login events -> masked rows in PostgreSQL',
      timeout: settings.timeout,
      environment: {
        ...environment,
        MASKING_SECRET_ID: maskingSecret.secretArn,
        DLQ_URL: deadLetterQueue.queueUrl,
        SOURCE_QUEUE_URL: queue.queueUrl,
        ...(props.recoveryPublicKey ? { RECOVERY_PUBLIC_KEY: props.recoveryPublicKey } : {}),
      },
      ...network,
    });
    maskingSecret.grantRead(handler);
    databaseSecret.grantRead(handler);
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
      description: 'login-queue schema migrations (run at deploy time)',
      timeout: Duration.minutes(5),
      environment,
      ...network,
    });
    databaseSecret.grantRead(migrate);
    if (database !== undefined) {
      database.allowFrom(handler);
      database.allowFrom(migrate);
    }
    // Runs the migrations during deployment, before the event source mapping exists, so the
    // first message never races the schema; a failing migration fails the deployment.
    const trigger = new Trigger(this, 'MigrateOnDeploy', {
      handler: migrate,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
      executeAfter: database ? [database] : [],
    });
    // Only the mapping waits for the schema (the whole function would form a cycle with the
    // database security group rule that names the function's security group).
    const mapping = handler.node.children.find((child) => child instanceof EventSourceMapping);
    if (mapping === undefined) throw new Error('the handler has no event source mapping');
    trigger.executeBefore(mapping);

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
    for (const fn of [handler, migrate]) {
      for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        Validations.of(fn).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
          reason:
            'The AWS-managed Lambda execution policies grant only log writing and VPC network interfaces, which the function needs.',
        });
      }
    }

    new Monitoring(this, 'Monitoring', {
      queue,
      deadLetterQueue,
      handler,
      maxMessageAge: props.maxMessageAge ?? Duration.minutes(15),
      alarmEmail: props.alarmEmail,
    });

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
    new CfnOutput(this, 'RecoveryKeySecretArn', { value: recoverySecret.secretArn });
    new CfnOutput(this, 'RecoveryOperatorPolicyArn', { value: recoveryOperator.managedPolicyArn });
  }
}
