import { Duration } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { resolveProps } from '../../infra/login-queue-stack';
import { stackOf } from '../helpers/stacks';

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
      'maxConcurrency 80 exceeds databaseConnectionBudget 50',
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
