/**
 * The pipeline on AWS: SQS queue + DLQ -> Lambda (partial batch failures) -> RDS PostgreSQL,
 * the masking key in Secrets Manager, schema migrations at deploy time, alarms and a
 * dashboard. `target: 'localstack'` builds the same stack without VPC and RDS, pointed at
 * an existing PostgreSQL. The stack only composes: each part is a construct of its own file.
 */
import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { AnalystAccess } from './analyst-access';
import { AnalystReplica } from './analyst-replica';
import { resolveDatabaseSizing } from './database-sizing';
import { ExternalDatabase, type ExternalDatabaseSettings } from './external-database';
import { IngestFunction } from './ingest-function';
import { KeyAlerts } from './key-alerts';
import { MaskingKeyRing, RecoveryKeyRing } from './key-secrets';
import { retainFunctionLogs } from './log-retention';
import type { LoginDatabase } from './login-database';
import { Monitoring } from './monitoring';
import { OperationsFunction } from './operations-function';
import { LoginQueues } from './queues';
import { RdsDatabase } from './rds-database';
import { SchemaFunction } from './schema-function';
import { check, type LoginQueueStackProps, resolveProps } from './stack-props';

export { type LoginQueueStackProps, resolveProps } from './stack-props';

export class LoginQueueStack extends Stack {
  constructor(scope: Construct, id: string, props: LoginQueueStackProps = {}) {
    super(scope, id, props);
    // LocalStack's CloudFormation drops dashboards and delivers no CloudTrail events.
    const onAws = (props.target ?? 'aws') === 'aws';
    const settings = resolveProps(props);

    const queues = new LoginQueues(this, {
      visibilityTimeout: settings.visibility,
      maxReceiveCount: settings.maxReceiveCount,
    });
    const masking = new MaskingKeyRing(this);
    const rds = onAws
      ? new RdsDatabase(this, 'Database', {
          sizing: settings.database ?? resolveDatabaseSizing(),
          removalPolicy: props.databaseRemovalPolicy,
        })
      : undefined;
    const database = rds ?? externalDatabase(this, props.externalDatabase);
    // Analysts' reads go to a replica of their own; no function is ever pointed at it.
    const replica =
      rds !== undefined && settings.analystReplica ? new AnalystReplica(this, rds) : undefined;
    const recovery = new RecoveryKeyRing(this, { masking, operators: props.recoveryOperators });

    const ingest = new IngestFunction(this, {
      queues,
      masking,
      database,
      timeout: settings.timeout,
      batchSize: settings.batchSize,
      maxBatchingWindow: settings.window,
      maxConcurrency: settings.maxConcurrency,
      tracing: props.tracing,
      recoveryPublicKey: props.recoveryPublicKey,
    });
    new SchemaFunction(this, {
      database,
      before: ingest.mapping,
      granularity: settings.granularity,
      retentionDays: settings.retentionDays,
      tracing: props.tracing,
    });
    masking.initialiseOnDeploy(ingest.mapping, props.tracing);
    const operations = new OperationsFunction(this, {
      queues,
      masking,
      recovery,
      database,
      tracing: props.tracing,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      queue: queues.queue,
      deadLetterQueue: queues.deadLetterQueue,
      handler: ingest.function,
      handlerLogGroup: ingest.function.logGroup,
      handlerTimeout: settings.timeout,
      maxMessageAge: props.maxMessageAge ?? Duration.minutes(15),
      alarmEmail: props.alarmEmail,
      database: database.monitored,
      replica: replica?.instance,
      dashboard: onAws,
    });
    if (rds !== undefined && settings.analystAccess === 'ssm') {
      new AnalystAccess(this, {
        database: rds,
        replica: replica?.instance,
        analysts: props.analysts,
      });
    }
    if (onAws) {
      new KeyAlerts(this, 'KeyAlerts', {
        keys: [queues.key, masking.key, recovery.key],
        topic: monitoring.topic,
      });
    }
    retainFunctionLogs(this, RetentionDays.ONE_MONTH);
    outputs(this, { queues, masking, recovery, database, ingest, operations, monitoring });
  }
}

/** The LocalStack target's database; throws unless its settings are given. */
function externalDatabase(
  scope: Construct,
  settings: ExternalDatabaseSettings | undefined,
): LoginDatabase {
  check(
    settings !== undefined,
    "target 'localstack' needs externalDatabase (host, name, user, password)",
  );
  return new ExternalDatabase(scope, settings as ExternalDatabaseSettings);
}

/** What deployment scripts, the CLI and operators read from the stack. */
function outputs(
  stack: Stack,
  parts: {
    queues: LoginQueues;
    masking: MaskingKeyRing;
    recovery: RecoveryKeyRing;
    database: LoginDatabase;
    ingest: IngestFunction;
    operations: OperationsFunction;
    monitoring: Monitoring;
  },
): void {
  const { queues, masking, recovery, database } = parts;
  const output = (id: string, value: string) => new CfnOutput(stack, id, { value });
  output('QueueUrl', queues.queue.queueUrl);
  output('DeadLetterQueueUrl', queues.deadLetterQueue.queueUrl);
  output('MaskingSecretArn', masking.secret.secretArn);
  output('DatabaseSecretArn', database.secret.secretArn);
  output('DatabaseEndpoint', database.host);
  output('HandlerName', parts.ingest.function.functionName);
  output('AlarmTopicArn', parts.monitoring.topic.topicArn);
  output('RecoveryKeySecretArn', recovery.secret.secretArn);
  output('RecoveryOperatorPolicyArn', recovery.operatorPolicy.managedPolicyArn);
  output('RecoveryOperatorRoleArn', recovery.operatorRole.roleArn);
  output('QueueKeyArn', queues.key.keyArn);
  output('ProducerPolicyArn', queues.producerPolicy.managedPolicyArn);
  // The URL with the function's ARN, which the CLI binds each caller proof to.
  output('OpsFunctionUrl', parts.operations.url);
}
