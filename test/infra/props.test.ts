import { readFileSync } from 'node:fs';
import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { BUNDLING_STACKS, CDK_APP_MODE_CONTEXT } from 'aws-cdk-lib/cx-api';
import { describe, expect, it } from 'vitest';
import {
  ENGINE_VERSION,
  POSTGRES_17_CLASSES,
  RESERVED_CONNECTIONS,
  resolveDatabaseSizing,
} from '../../infra/database-sizing';
import { defineApp } from '../../infra/define-app';
import { resolveProps } from '../../infra/login-queue-stack';
import { stackOf } from '../helpers/stacks';
import { CDK_CONTEXT } from '../helpers/variants';

describe('stack props', () => {
  it('derives the visibility timeout from the function timeout and the batching window', () => {
    const resolved = resolveProps({
      functionTimeout: Duration.seconds(30),
      maxBatchingWindow: Duration.seconds(10),
    });
    expect(resolved.visibility.toSeconds()).toBe(190);
  });

  it('rejects a visibility timeout below 6 x timeout + window, naming the values and the fix', () => {
    expect(() =>
      resolveProps({
        functionTimeout: Duration.seconds(60),
        visibilityTimeout: Duration.seconds(60),
      }),
    ).toThrow(
      'visibilityTimeout is 60 s but must be >= 6 x functionTimeout (60 s) + maxBatchingWindow (5 s) = 365 s (and <= 43200 s); raise visibilityTimeout or lower functionTimeout',
    );
  });

  it('rejects more concurrency than the database has connections for', () => {
    expect(() => resolveProps({ maxConcurrency: 80, databaseConnectionBudget: 50 })).toThrow(
      'maxConcurrency 80 exceeds the database connection budget 50',
    );
  });

  it.each([
    [{ maxReceiveCount: 0 }, 'maxReceiveCount is 0; use an integer in 1..1000'],
    [{ batchSize: 20_000 }, 'batchSize is 20000; use an integer in 1..10000'],
    [
      { batchSize: 100, maxBatchingWindow: Duration.seconds(0) },
      'batchSize 100 needs maxBatchingWindow >= 1 s',
    ],
    [{ maxConcurrency: 1 }, 'maxConcurrency is 1; the event source mapping accepts 2..1000'],
  ])('rejects %j', (props, message) => {
    expect(() => resolveProps(props)).toThrow(message);
  });

  it('requires a database for the LocalStack target', () => {
    expect(() => stackOf({ target: 'localstack' })).toThrow(
      "target 'localstack' needs externalDatabase",
    );
  });
});

describe('cdk-nag AWS Solutions checks', () => {
  // The plugin stops synthesis on any finding that no acknowledgement (with its reason) covers;
  // every variant passed it in the run's setup (test/helpers/synth-setup.ts).
  it('do stop synthesis on a finding (the check is live)', () => {
    const { app, stack } = stackOf();
    // A secret without rotation and without acknowledgement is an AwsSolutions-SMG4 finding.
    new Secret(stack, 'Unacknowledged');
    expect(() => app.synth()).toThrow(/AwsSolutions-SMG4/);
  });
});

describe('database sizing', () => {
  it('derives the connection budget from the instance class', () => {
    expect(resolveDatabaseSizing().maxConnections).toBe(90);
    expect(resolveDatabaseSizing().connectionBudget).toBe(90 - RESERVED_CONNECTIONS);
    expect(resolveDatabaseSizing({ instanceType: 'm7g.large' }).maxConnections).toBe(720);
    expect(resolveDatabaseSizing({ instanceType: 'r7g.2xlarge' }).maxConnections).toBe(5_000);
  });

  it.each([
    [
      { instanceType: 'db.t4g.micro' },
      'instanceType is "db.t4g.micro"; use an RDS class without "db."',
    ],
    [
      { instanceType: 't2.micro' },
      'instanceType is "t2.micro", which RDS does not offer for PostgreSQL 17; use one of the classes t3, t4g, m5,',
    ],
    [
      { instanceType: 'm4.large' },
      'instanceType is "m4.large", which RDS does not offer for PostgreSQL 17',
    ],
    [
      { instanceType: 'm7g.micro' },
      'instanceType is "m7g.micro", but db.m7g comes in large, xlarge, 2xlarge, 4xlarge, 8xlarge, 12xlarge, 16xlarge; use one of those (e.g. m7g.large)',
    ],
    [
      { instanceType: 'm7g.48xlarge' },
      'instanceType is "m7g.48xlarge", but db.m7g comes in large,',
    ],
    [{ allocatedStorageGiB: 10 }, 'allocatedStorageGiB is 10; use an integer in 20..65536'],
    [
      { allocatedStorageGiB: 200, maxAllocatedStorageGiB: 100 },
      'maxAllocatedStorageGiB is 100; use an integer in 200..65536 (at least allocatedStorageGiB)',
    ],
    [{ backupRetentionDays: 0 }, 'backupRetentionDays is 0; use an integer in 1..35'],
  ])('rejects %j, naming the value, the range and the fix', (sizing, message) => {
    expect(() => resolveDatabaseSizing(sizing)).toThrow(message);
  });

  it('accepts every class and size of its PostgreSQL 17 table, with a memory-derived budget', () => {
    for (const [name, sizes] of Object.entries(POSTGRES_17_CLASSES)) {
      for (const size of sizes) {
        const sizing = resolveDatabaseSizing({ instanceType: `${name}.${size}` });
        expect(sizing.instanceType.toString()).toBe(`${name}.${size}`);
        expect(sizing.maxConnections).toBeGreaterThanOrEqual(90);
      }
    }
    expect(ENGINE_VERSION.postgresMajorVersion).toBe('17');
  });

  it('rejects a connection budget the instance class cannot give', () => {
    expect(() => resolveDatabaseSizing({}, 500)).toThrow(
      'databaseConnectionBudget is 500 but db.t4g.micro allows about 90 connections, 13 of them kept back; use 2..77 or a larger instanceType',
    );
  });

  it('rejects more concurrency than the chosen class has connections for', () => {
    expect(() => resolveProps({ maxConcurrency: 100 })).toThrow(
      'maxConcurrency 100 exceeds the database connection budget 77',
    );
    expect(() =>
      resolveProps({ maxConcurrency: 100, database: { instanceType: 'm7g.large' } }),
    ).not.toThrow();
  });

  it('builds a production database from props: class, Multi-AZ, protection, storage, backups', () => {
    // Arrange / Act
    const { stack } = stackOf({
      database: {
        instanceType: 'm7g.large',
        multiAz: true,
        deletionProtection: true,
        allocatedStorageGiB: 100,
        maxAllocatedStorageGiB: 1000,
        backupRetentionDays: 14,
      },
      maxConcurrency: 50,
    });
    const template = Template.fromStack(stack);

    // Assert
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.m7g.large',
      MultiAZ: true,
      DeletionProtection: true,
      AllocatedStorage: '100',
      MaxAllocatedStorage: 1000,
      BackupRetentionPeriod: 14,
      StorageType: 'gp3',
      EnablePerformanceInsights: true,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 50 },
    });
    // No CPU-credit alarm on a class without credits.
    expect(
      Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
        (alarm) => (alarm as { Properties: { MetricName?: string } }).Properties.MetricName,
      ),
    ).not.toContain('CPUCreditBalance');
  });

  it('closes idle sessions, keeps rows out of server logs, and expires the exported log', () => {
    const { stack } = stackOf();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: {
        'rds.force_ssl': '1',
        idle_session_timeout: '600000',
        idle_in_transaction_session_timeout: '60000',
        log_min_error_statement: 'panic',
        log_error_verbosity: 'terse',
      },
    });
    template.hasResourceProperties('Custom::LogRetention', {
      LogGroupName: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
      RetentionInDays: 30,
    });
  });
});

describe('the production settings of docs/operations/deploy.md', () => {
  it('synthesise as the app reads them from context, with zero cdk-nag findings', () => {
    // Arrange: the context flags of the production `cdk deploy` example.
    const deploy = readFileSync(
      new URL('../../docs/operations/deploy.md', import.meta.url),
      'utf8',
    );
    const command = /npx cdk deploy -c alarmEmail=oncall@(?:[^\n\\]|\\\n)*/.exec(deploy)?.[0];
    expect(command).toBeDefined();
    const context = Object.fromEntries(
      [...(command ?? '').matchAll(/-c (\w+)=(\S+)/g)].map(([, key, value]) => [key, value]),
    );
    expect(Object.keys(context)).toContain('dbInstanceType');
    const app = new App({
      context: {
        ...CDK_CONTEXT,
        ...context,
        [BUNDLING_STACKS]: [],
        [CDK_APP_MODE_CONTEXT]: 'inmemory',
      },
    });
    // Act
    const stack = defineApp(app, { account: '123456789012', region: 'eu-west-1' });
    const template = Template.fromStack(stack);
    // Assert
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.m7g.large',
      MultiAZ: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 14,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 50 },
    });
    expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).toContain(
      'arn:aws:iam::123456789012:role/incident-response',
    );
  });

  it.each([
    [{ dbMultiAz: 'yes' }, 'context dbMultiAz is "yes"; use true or false'],
    [{ batchSize: 'abc' }, 'context batchSize is "abc"; use a number'],
    [{ target: 'bogus' }, 'context target is "bogus"; use aws (the default) or localstack'],
  ])('reject context %j, naming the value and what to use', (context, message) => {
    const app = new App({ context: { ...context, [BUNDLING_STACKS]: [] } });
    expect(() => defineApp(app, {})).toThrow(message);
  });
});
