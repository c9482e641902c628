/**
 * Alarms and a dashboard: DLQ depth, age of the oldest message, function errors and
 * throttles, and records the handler reports for retry (a dependency is down); optional
 * e-mail notifications through an SNS topic.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MetricName, NAMESPACE, SERVICE } from '../lambda/metric-names';

export interface MonitoringProps {
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  readonly handler: IFunction;
  /** Alarm when the oldest message is older than this. */
  readonly maxMessageAge: Duration;
  /** Where alarm notifications go; no topic without it. */
  readonly alarmEmail?: string;
}

const MINUTE = Duration.minutes(1);

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
  readonly topic: Topic | undefined;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { queue, deadLetterQueue, handler } = props;
    const alarm = (
      name: string,
      metric: IMetric,
      threshold: number,
      description: string,
      periods = 1,
    ) =>
      this.alarms.push(
        new Alarm(this, name, {
          metric,
          threshold,
          evaluationPeriods: periods,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        }),
      );

    const dlqDepth = deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: MINUTE,
      statistic: 'Maximum',
    });
    const oldest = queue.metricApproximateAgeOfOldestMessage({
      period: MINUTE,
      statistic: 'Maximum',
    });
    const retried = handlerMetric(MetricName.Retried);
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
      'The handler threw (a bug, or a bad configuration).',
    );
    alarm(
      'FunctionThrottles',
      handler.metricThrottles({ period: MINUTE }),
      0,
      'Invocations were throttled.',
    );
    alarm(
      'RecordsRetried',
      retried,
      0,
      'Records are being retried for 5 minutes: a dependency is down.',
      5,
    );

    if (props.alarmEmail !== undefined) {
      this.topic = new Topic(this, 'Alarms', {
        enforceSSL: true,
        displayName: 'login-queue alarms',
      });
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      for (const a of this.alarms) a.addAlarmAction(new SnsAction(this.topic));
    }

    const widget = (title: string, left: IMetric[]) => new GraphWidget({ title, left, width: 8 });
    new Dashboard(this, 'Dashboard', {
      widgets: [
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
          widget('Function errors and throttles', [
            handler.metricErrors({ period: MINUTE }),
            handler.metricThrottles({ period: MINUTE }),
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
      ],
    });
  }
}
