import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveProps } from '../../infra/login-queue-stack';
import { stackOf, template } from '../helpers/stacks';

let aws: Template;
beforeAll(() => {
  aws = template('aws');
});

type Resource = { Type: string; Properties: Record<string, unknown> };
const alarms = (t: Template) =>
  Object.entries(t.findResources('AWS::CloudWatch::Alarm')) as [string, Resource][];
const alarmOn = (metric: string) => {
  const found = alarms(aws).filter(([, a]) => a.Properties.MetricName === metric);
  expect(found, metric).toHaveLength(1);
  return (found[0] as [string, Resource])[1].Properties;
};

describe('alarm notifications', () => {
  it('sends every alarm to the topic when it fires and when it clears, e-mail or not', () => {
    for (const t of [aws, template('noEmail')]) {
      t.resourceCountIs('AWS::SNS::Topic', 1);
      const [topicId] = Object.keys(t.findResources('AWS::SNS::Topic'));
      const all = alarms(t);
      expect(all.length).toBeGreaterThanOrEqual(11);
      for (const [id, a] of all) {
        expect(a.Properties.AlarmActions, id).toEqual([{ Ref: topicId }]);
        expect(a.Properties.OKActions, id).toEqual([{ Ref: topicId }]);
      }
    }
    template('noEmail').resourceCountIs('AWS::SNS::Subscription', 0);
    aws.hasOutput('AlarmTopicArn', {});
  });
});

describe('database alarms', () => {
  it('watch CPU, CPU credits on a burstable class, free storage against what is allocated, and connections', () => {
    expect(alarmOn('CPUUtilization')).toMatchObject({ Namespace: 'AWS/RDS', Threshold: 80 });
    expect(alarmOn('CPUCreditBalance')).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 20,
    });
    // 10 % of the storage allocated (not of the autoscaling cap), for 15 minutes: RDS's own
    // autoscaling starts after 5 minutes at 10 % free.
    const [instance] = Object.values(aws.findResources('AWS::RDS::DBInstance')) as Resource[];
    const allocatedGiB = Number(instance?.Properties.AllocatedStorage);
    expect(allocatedGiB).toBe(20);
    expect(alarmOn('FreeStorageSpace')).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      Threshold: allocatedGiB * 1024 ** 3 * 0.1,
      EvaluationPeriods: 3,
    });
    // 80 % of a t4g.micro's ~90 connections.
    expect(alarmOn('DatabaseConnections')).toMatchObject({ Threshold: 72 });
  });

  it("alarm on a failed rotation of this stack's master password only, counted by the rule's sends to the topic", () => {
    // Arrange: the rule, the master secret (behind its attachment) and the alarm topic.
    const rules = Object.entries(
      aws.findResources('AWS::Events::Rule', {
        Properties: { EventPattern: { detail: { eventName: ['RotationFailed'] } } },
      }),
    ) as [string, Resource][];
    expect(rules).toHaveLength(1);
    const [[ruleId, rule]] = rules as [[string, Resource]];
    const [attachment] = Object.keys(
      aws.findResources('AWS::SecretsManager::SecretTargetAttachment'),
    );
    const [topic] = Object.keys(aws.findResources('AWS::SNS::Topic'));

    // Assert: filtered to this secret's ARN, sent to the topic, and the alarm counts the sends.
    expect(rule.Properties.EventPattern).toMatchObject({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: { additionalEventData: { SecretId: [{ Ref: attachment }] } },
    });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: topic }, RoleArn: expect.anything() }),
    ]);
    expect(alarmOn('Invocations')).toMatchObject({
      Namespace: 'AWS/Events',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: ruleId } }],
      Statistic: 'Sum',
      Threshold: 0,
    });
    expect(alarms(aws).filter(([, a]) => a.Properties.MetricName === 'MatchedEvents')).toEqual([]);
  });
});

describe('function alarms', () => {
  it('alarm when an invocation nears the function timeout', () => {
    expect(alarmOn('Duration')).toMatchObject({
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: 60_000 * 0.8,
    });
  });

  it('raise a dependency outage within a few minutes', () => {
    expect(alarmOn('RecordsRetried').EvaluationPeriods).toBeLessThanOrEqual(3);
    expect(alarmOn('Errors').EvaluationPeriods).toBe(1);
  });
});

describe('dashboard', () => {
  it('shows alarm status, rejection reasons, write statements, database load and concurrency', () => {
    const [dashboard] = Object.values(
      aws.findResources('AWS::CloudWatch::Dashboard'),
    ) as Resource[];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    expect(body).toMatch(/type\\+"\s*:\s*\\+"alarm/);
    for (const needle of [
      'MonitoringDeadLetterQueueNotEmpty',
      'record rejected',
      'WriteStatements',
      'DatabaseConnections',
      'ConcurrentExecutions',
    ]) {
      expect(body, needle).toContain(needle);
    }
  });

  it('is left out of the LocalStack target, whose CloudFormation drops dashboards', () => {
    template('localstack').resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('functions in production', () => {
  const ours = () =>
    Object.values(
      aws.findResources('AWS::Lambda::Function', {
        Properties: { LoggingConfig: { LogGroup: Match.anyValue() } },
      }),
    ) as Resource[];

  it('enable source maps, log JSON at INFO, and take Powertools settings from its variables', () => {
    // The handler, the migration, SecretInit and the operations function.
    expect(ours()).toHaveLength(4);
    for (const fn of ours()) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(variables.POWERTOOLS_SERVICE_NAME).toBe('login-queue');
      expect(fn.Properties.LoggingConfig).toMatchObject({
        LogFormat: 'JSON',
        ApplicationLogLevel: 'INFO',
        SystemLogLevel: 'WARN',
      });
      // X-Ray is an option (-c tracing=true): a cost per trace, and off by default.
      expect(fn.Properties.TracingConfig).toBeUndefined();
    }
  });

  it('trace with X-Ray when asked', () => {
    const traced = Template.fromStack(stackOf({ tracing: true }).stack);
    const functions = Object.values(
      traced.findResources('AWS::Lambda::Function', {
        Properties: { LoggingConfig: { LogGroup: Match.anyValue() } },
      }),
    ) as Resource[];
    expect(functions).toHaveLength(4);
    for (const fn of functions) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
  });

  it('give every log group a retention: their own, the providers, the rotation and PostgreSQL', () => {
    for (const group of Object.values(aws.findResources('AWS::Logs::LogGroup')) as Resource[]) {
      expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    }
    const functions = Object.entries(aws.findResources('AWS::Lambda::Function')) as [
      string,
      Resource,
    ][];
    const retained = JSON.stringify(aws.findResources('Custom::LogRetention'));
    for (const [id, fn] of functions) {
      if (fn.Properties.LoggingConfig !== undefined || id.startsWith('LogRetention')) continue;
      expect(retained, id).toContain(`{"Ref":"${id}"}`);
    }
    expect(retained).toContain('/aws/lambda/LoginQueueDatabaseInstanceRotationSingleUser');
    expect(retained).toContain('/postgresql');
  });
});

describe('partition maintenance and retention', () => {
  const migrateFunction = (t: Template) => {
    const [id] = Object.keys(
      t.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('partition maintenance') },
      }),
    );
    if (id === undefined) throw new Error('no migration function');
    return id;
  };

  it('runs the migration function daily on a schedule, retried twice', () => {
    aws.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(17 3 * * ? *)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [migrateFunction(aws), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2 },
        }),
      ],
    });
    aws.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [migrateFunction(aws), 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
  });

  it('passes the retention and granularity to it, and no retention when none is set', () => {
    const env = (t: Template) =>
      (
        t.findResources('AWS::Lambda::Function')[migrateFunction(t)] as {
          Properties: { Environment: { Variables: Record<string, unknown> } };
        }
      ).Properties.Environment.Variables;
    expect(env(aws)).toMatchObject({ RETENTION_DAYS: '400', PARTITION_GRANULARITY: 'month' });
    expect(env(template('noEmail'))).not.toHaveProperty('RETENTION_DAYS');
  });

  it('warns at synthesis when PII is kept forever', () => {
    const { stack } = stackOf({});
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('keeps its PII forever'));
    const { stack: kept } = stackOf({ retentionDays: 30 });
    Annotations.fromStack(kept).hasNoWarning('*', Match.stringLikeRegexp('PII forever'));
  });

  it('rejects a retention or granularity out of range, naming the value and the fix', () => {
    expect(() => resolveProps({ retentionDays: 0 })).toThrow(
      'retentionDays is 0; use an integer in 1..36500 (days), or leave it unset to keep every row',
    );
    expect(() => resolveProps({ partitionGranularity: 'week' as unknown as 'month' })).toThrow(
      'partitionGranularity is "week"; use month or day',
    );
  });

  it('alarms when maintenance has not succeeded for 2 days, missing data counting as failure', () => {
    expect(alarmOn('MaintenanceSucceeded')).toMatchObject({
      Namespace: 'LoginQueue',
      Statistic: 'Sum',
      Period: 86_400,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('alarms when rows sit in the default partition', () => {
    expect(alarmOn('DefaultPartitionRows')).toMatchObject({
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});
