/**
 * The schema function: runs the migrations at deploy time, before the event source mapping
 * exists, and the partition maintenance and PII retention daily (lambda/db/maintain.ts), as the
 * database's master user.
 */
import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Trigger } from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { Env } from '../lambda/contract/env';
import { loginQueueFunction, TELEMETRY } from './function-defaults';
import type { LoginDatabase } from './login-database';

export interface SchemaFunctionProps {
  readonly database: LoginDatabase;
  /** The mapping the first migration must precede (the SQS function's). */
  readonly before: EventSourceMapping;
  /** Size of the partitions maintenance creates. */
  readonly granularity: 'month' | 'day';
  /** Drop partitions wholly older than this many days. @default none: rows are kept (synthesis warns) */
  readonly retentionDays?: number;
  /** X-Ray active tracing. @default false */
  readonly tracing?: boolean;
}

/**
 * Creates the function in `scope` (the stack) under the id Migrate, its daily schedule
 * (MaintainDaily) and its deploy-time trigger (MigrateOnDeploy).
 */
export class SchemaFunction {
  readonly function: NodejsFunction;

  constructor(scope: Construct, props: SchemaFunctionProps) {
    const { database } = props;
    // The master credentials are the migration's alone; the other functions log in as their
    // own roles where the database allows it (lambda/contract/roles.ts).
    const migrate = loginQueueFunction(scope, 'Migrate', {
      entry: 'migrate',
      xray: props.tracing,
      description:
        'login-queue schema migrations and partition maintenance (at deploy time, then daily)',
      timeout: Duration.minutes(5),
      environment: {
        ...database.environment,
        ...database.loginEnvironment('master'),
        ...TELEMETRY,
        [Env.PARTITION_GRANULARITY]: props.granularity,
        ...(props.retentionDays === undefined
          ? {}
          : { [Env.RETENTION_DAYS]: String(props.retentionDays) }),
      },
      ...database.network,
    });
    if (props.retentionDays === undefined) {
      Annotations.of(Stack.of(scope)).addWarningV2(
        'login-queue:retention',
        'No retentionDays: user_logins keeps its PII forever. Set -c retentionDays=<days> to drop old partitions daily.',
      );
    }
    // Daily: partitions ahead, default-partition rows placed, retention applied (db/maintain.ts).
    // The alarm MaintenanceNotSucceeding (Monitoring) watches that it keeps succeeding.
    new Rule(scope, 'MaintainDaily', {
      description: 'login-queue: partition maintenance and PII retention',
      schedule: Schedule.cron({ minute: '17', hour: '3' }),
      targets: [new LambdaFunction(migrate, { retryAttempts: 2 })],
    });
    // The schedule invokes the unqualified function, never a version or alias.
    Annotations.of(migrate).acknowledgeWarning(
      '@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
      'EventBridge invokes the unqualified function ARN; no version or alias is called.',
    );
    database.grantLogin(migrate, 'master');
    database.allowConnectionsFrom(migrate, 'secretsManager');
    // Runs the migrations during deployment, before the event source mapping exists, so the
    // first message never races the schema; a failing migration fails the deployment.
    const trigger = new Trigger(scope, 'MigrateOnDeploy', {
      handler: migrate,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
      executeAfter: [...database.deployDependencies],
    });
    // Its own security group's egress rules live beside the function, outside the database.
    database.orderAfterNetwork(trigger, migrate, 'secretsManager');
    // Only the mapping waits for the schema (the whole function would form a cycle with the
    // database security group rule that names the function's security group).
    trigger.executeBefore(props.before);
    this.function = migrate;
  }
}
