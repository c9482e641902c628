/**
 * Alarms, their SNS topic and a dashboard: the queues (DLQ depth, age of the oldest message),
 * the function (errors, throttles, duration against its timeout, records retried), the
 * database (CPU, CPU credits, free storage, connections) and the master password's rotation.
 * Every alarm notifies the topic when it fires and when it clears; e-mail is optional.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  LogQueryWidget,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IDatabaseInstance } from 'aws-cdk-lib/aws-rds';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MaintenanceMetric, MetricName, NAMESPACE, SERVICE } from '../lambda/contract/metrics';
import type { ResolvedDatabaseSizing } from './database-sizing';

export interface MonitoredDatabase {
  readonly instance: IDatabaseInstance;
  readonly sizing: ResolvedDatabaseSizing;
  /** The EventBridge rule matching failed rotations of the master password (given a target here). */
  readonly rotationFailed: Rule;
}

export interface MonitoringProps {
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  readonly handler: IFunction;
  readonly handlerLogGroup: ILogGroup;
  /** The handler's timeout: its duration alarms at 80 % of it. */
  readonly handlerTimeout: Duration;
  /** Alarm when the oldest message is older than this. */
  readonly maxMessageAge: Duration;
  /** Also mail alarm notifications here. @default the topic only */
  readonly alarmEmail?: string;
  /** The AWS target's database. @default none (LocalStack: an external PostgreSQL) */
  readonly database?: MonitoredDatabase;
  /** The analysts' read replica: its lag, CPU and free storage alarmed. @default none */
  readonly replica?: IDatabaseInstance;
  /** Draw the dashboard (LocalStack's CloudFormation drops dashboards). @default true */
  readonly dashboard?: boolean;
}

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/** A metric the handler publishes in Embedded Metric Format. */
export function handlerMetric(name: string): Metric {
  return new Metric({
    namespace: NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE },
    statistic: 'Sum',
    period: MINUTE,
  });
}

export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { queue, deadLetterQueue, handler, database } = props;
    this.topic = new Topic(this, 'Alarms', { enforceSSL: true, displayName: 'login-queue alarms' });
    if (props.alarmEmail !== undefined) {
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    }
    const notify = new SnsAction(this.topic);
    const alarm = (
      name: string,
      metric: IMetric,
      threshold: number,
      description: string,
      options: { periods?: number; below?: boolean; missing?: TreatMissingData } = {},
    ) => {
      const created = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: options.periods ?? 1,
        comparisonOperator: options.below
          ? ComparisonOperator.LESS_THAN_THRESHOLD
          : ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
      this.alarms.push(created);
      return created;
    };

    const dlqDepth = deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: MINUTE,
      statistic: 'Maximum',
    });
    const oldest = queue.metricApproximateAgeOfOldestMessage({
      period: MINUTE,
      statistic: 'Maximum',
    });
    const duration = handler.metricDuration({ period: MINUTE, statistic: 'Maximum' });
    alarm(
      'DeadLetterQueueNotEmpty',
      dlqDepth,
      0,
      'Messages are dead-lettered: `npm run dlq -- --peek` shows why.',
    );
    alarm(
      'OldestMessageTooOld',
      oldest,
      props.maxMessageAge.toSeconds(),
      `The source queue holds a message older than ${props.maxMessageAge.toSeconds()} s: the pipeline is behind or stuck.`,
    );
    alarm(
      'FunctionErrors',
      handler.metricErrors({ period: MINUTE }),
      0,
      'The handler threw: a bug, a bad configuration, or a dependency down (the batch is retried later).',
    );
    alarm(
      'FunctionThrottles',
      handler.metricThrottles({ period: MINUTE }),
      0,
      'Invocations were throttled.',
    );
    alarm(
      'FunctionDurationNearTimeout',
      duration,
      props.handlerTimeout.toMilliseconds() * 0.8,
      `An invocation took over 80 % of the ${props.handlerTimeout.toSeconds()} s timeout: the database is slow, or batches are too large.`,
      { periods: 2 },
    );
    alarm(
      'RecordsRetried',
      handlerMetric(MetricName.Retried),
      0,
      'Records have been retried for 3 minutes: a dependency (database, Secrets Manager, SQS) is failing.',
      { periods: 3 },
    );

    // Partition maintenance (the migration function, daily and at deploy): absent success is a
    // failure, whether it threw, timed out or never ran.
    const maintenance = (name: string, statistic: string) =>
      new Metric({
        namespace: NAMESPACE,
        metricName: name,
        dimensionsMap: { service: SERVICE },
        statistic,
        period: Duration.days(1),
      });
    alarm(
      'MaintenanceNotSucceeding',
      maintenance(MaintenanceMetric.Succeeded, 'Sum'),
      1,
      'Partition maintenance has not succeeded for 2 days: see the Migrate function logs; new months may lack partitions (rows then land in user_logins_default) and retention is not applied.',
      { periods: 2, below: true, missing: TreatMissingData.BREACHING },
    );
    alarm(
      'DefaultPartitionHasRows',
      maintenance(MaintenanceMetric.DefaultPartitionRows, 'Maximum'),
      0,
      'Rows sit in user_logins_default (no create_date, or a date maintenance has not yet given a partition): run npm run maintain; undated rows are legacy rows to review.',
    );

    if (database !== undefined) {
      const { instance, sizing } = database;
      alarm(
        'DatabaseCpuHigh',
        instance.metricCPUUtilization({ period: FIVE_MINUTES }),
        80,
        'PostgreSQL CPU above 80 % for 10 minutes: lower maxConcurrency or choose a larger instanceType.',
        { periods: 2 },
      );
      if (sizing.burstable) {
        alarm(
          'DatabaseCpuCreditsLow',
          instance.metric('CPUCreditBalance', { period: FIVE_MINUTES, statistic: 'Minimum' }),
          20,
          'The burstable instance is running out of CPU credits: it will be throttled to its baseline.',
          { below: true },
        );
      }
      // A share of what is allocated, not of the autoscaling cap: at 10 % free RDS also starts
      // autoscaling (5 minutes below it), so the alarm waits 15 minutes for that to add space.
      alarm(
        'DatabaseStorageLow',
        instance.metricFreeStorageSpace({ period: FIVE_MINUTES, statistic: 'Minimum' }),
        sizing.allocatedStorageGiB * 1024 ** 3 * 0.1,
        `Less than 10 % of the ${sizing.allocatedStorageGiB} GiB allocated at creation has been free for 15 minutes: storage autoscaling (up to ${sizing.maxAllocatedStorageGiB} GiB) has not kept up or reached its cap; raise maxAllocatedStorageGiB or apply retention.`,
        { below: true, periods: 3 },
      );
      alarm(
        'DatabaseConnectionsHigh',
        instance.metricDatabaseConnections({ period: MINUTE, statistic: 'Maximum' }),
        Math.floor(sizing.maxConnections * 0.8),
        `Over 80 % of the ~${sizing.maxConnections} connections the instance allows are in use.`,
        { periods: 3 },
      );
      // The rule sends each failure to the topic, and Invocations (dimension RuleName) counts
      // those sends: emitted whenever the target is invoked, never zero-filled (EventBridge user
      // guide, "Monitoring Amazon EventBridge"). MatchedEvents per rule was never documented.
      database.rotationFailed.addTarget(new SnsTopic(this.topic, { authorizeUsingRole: true }));
      alarm(
        'DatabaseRotationFailed',
        new Metric({
          namespace: 'AWS/Events',
          metricName: 'Invocations',
          dimensionsMap: { RuleName: database.rotationFailed.ruleName },
          statistic: 'Sum',
          period: FIVE_MINUTES,
        }),
        0,
        'The master password rotation failed: see the rotation function logs; the old password stays valid.',
      );
    }

    if (props.replica !== undefined) {
      const { replica } = props;
      // The replica may hold replay back up to 5 minutes for an analyst query
      // (max_standby_streaming_delay): alarm only past that, for 15 minutes.
      alarm(
        'AnalystReplicaLagHigh',
        replica.metric('ReplicaLag', { period: FIVE_MINUTES, statistic: 'Maximum' }),
        600,
        'The analyst replica is over 10 minutes behind the primary for 15 minutes: analysts see old data; long analyst queries, or a replica class too small for the write rate.',
        // No ReplicaLag at all means replication is broken (or the replica is down): alarm.
        { periods: 3, missing: TreatMissingData.BREACHING },
      );
      alarm(
        'AnalystReplicaCpuHigh',
        replica.metricCPUUtilization({ period: FIVE_MINUTES }),
        80,
        'Analyst replica CPU above 80 % for 10 minutes: analyst queries saturate it (the pipeline is not affected, but replay may fall behind).',
        { periods: 2 },
      );
      // A replica starts with the primary's allocated storage and autoscales to the same cap.
      if (database !== undefined) {
        const { sizing } = database;
        alarm(
          'AnalystReplicaStorageLow',
          replica.metricFreeStorageSpace({ period: FIVE_MINUTES, statistic: 'Minimum' }),
          sizing.allocatedStorageGiB * 1024 ** 3 * 0.1,
          `Less than 10 % of the analyst replica's ${sizing.allocatedStorageGiB} GiB allocated at creation has been free for 15 minutes: storage autoscaling (up to ${sizing.maxAllocatedStorageGiB} GiB) has not kept up or reached its cap; replication stops when the replica is full.`,
          { below: true, periods: 3 },
        );
      }
    }

    if (props.dashboard === false) return;
    const widget = (title: string, left: IMetric[]) => new GraphWidget({ title, left, width: 8 });
    const databaseWidgets =
      database === undefined
        ? []
        : [
            widget('Database connections', [
              database.instance.metricDatabaseConnections({ period: MINUTE }),
            ]),
            widget('Database CPU (%)', [
              database.instance.metricCPUUtilization({ period: MINUTE }),
            ]),
          ];
    new Dashboard(this, 'Dashboard', {
      widgets: [
        [new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
        [
          widget('Source queue depth', [
            queue.metricApproximateNumberOfMessagesVisible({ period: MINUTE }),
            queue.metricApproximateNumberOfMessagesNotVisible({ period: MINUTE }),
          ]),
          widget('Age of oldest message (s)', [oldest]),
          widget('Dead-letter queue depth', [dlqDepth]),
        ],
        [
          widget('Function duration (ms)', [
            handler.metricDuration({ period: MINUTE, statistic: 'p50' }),
            handler.metricDuration({ period: MINUTE, statistic: 'p99' }),
          ]),
          widget('Function errors, throttles and concurrency', [
            handler.metricErrors({ period: MINUTE }),
            handler.metricThrottles({ period: MINUTE }),
            handler.metric('ConcurrentExecutions', { period: MINUTE, statistic: 'Maximum' }),
          ]),
          widget(
            'Records (handler metrics)',
            [
              MetricName.Received,
              MetricName.Written,
              MetricName.Duplicates,
              MetricName.DeadLettered,
              MetricName.Retried,
            ].map(handlerMetric),
          ),
        ],
        [
          widget('Write statements', [handlerMetric(MetricName.WriteStatements)]),
          new LogQueryWidget({
            title: 'Rejections by reason',
            logGroupNames: [props.handlerLogGroup.logGroupName],
            queryLines: [
              'filter message = "record rejected"',
              'stats count(*) as records by reason',
              'sort records desc',
            ],
            width: 8,
          }),
          ...databaseWidgets,
        ],
      ],
    });
  }
}
