import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveProps } from '../../../infra/login-queue-stack';
import {
  BACKOFF_JITTER,
  backoffSeconds,
  MAX_VISIBILITY_SECONDS,
} from '../../../lambda/core/backoff';
import { loadConfig } from '../../../lambda/functions/config';

// The function's defaults and the deployed queue's settings, read from their sources.
const { backoff: policy } = loadConfig({ DATABASE_URL: 'postgres://x', MASKING_SECRET_ID: 'm' });
const deployed = resolveProps({});

/**
 * Seconds from a record's first receive to its n-th, when every delivery meets a systemic
 * failure (the handler sets each delivery's visibility to the backoff) and jitter is at its least.
 */
function secondsUntilReceive(n: number, random = () => 0): number {
  let at = 0;
  for (let count = 1; count < n; count++) at += backoffSeconds(count, policy, random);
  return at;
}

describe('systemic-failure backoff', () => {
  it('keeps a record in the deployed queue through 2 h of outage before its maxReceiveCount-th receive', () => {
    // Arrange: the deployed queue (visibility 365 s, 30 receives) and the function's defaults.
    expect(deployed.maxReceiveCount).toBe(30);
    expect(deployed.visibility.toSeconds()).toBe(365);
    // Act
    const lastReceive = secondsUntilReceive(deployed.maxReceiveCount);
    const deadLettered = lastReceive + backoffSeconds(deployed.maxReceiveCount, policy, () => 0);
    // Assert: 30 + 150 + 27 x 300 s before the 30th receive; SQS moves it 5 minutes later.
    expect(lastReceive).toBe(8_280);
    expect(lastReceive).toBeGreaterThanOrEqual(2 * 3600);
    expect(deadLettered).toBe(8_580);
  });

  it('retries a short blip within minutes and a recovered backlog within the cap plus jitter', () => {
    // A recovered backlog is back within the cap (5 minutes) plus jitter: "within minutes".
    expect(backoffSeconds(1, policy, () => 0.999)).toBeLessThanOrEqual(36);
    expect(policy.maxSeconds * (1 + BACKOFF_JITTER)).toBeLessThanOrEqual(6 * 60);
    const longest = Math.max(
      ...Array.from({ length: 20 }, (_, i) => backoffSeconds(i + 1, policy, () => 0.999)),
    );
    expect(longest).toBeLessThanOrEqual(policy.maxSeconds * (1 + BACKOFF_JITTER));
  });

  it('grows with the receive count, never shortens with jitter, and stays within what SQS accepts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 43_200 }),
        fc.integer({ min: 1, max: 43_200 }),
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseSeconds, maxSeconds, count, r) => {
          const p = { baseSeconds, maxSeconds };
          const least = backoffSeconds(count, p, () => 0);
          const jittered = backoffSeconds(count, p, () => r);
          expect(least).toBeGreaterThanOrEqual(1);
          expect(jittered).toBeGreaterThanOrEqual(least);
          expect(jittered).toBeLessThanOrEqual(MAX_VISIBILITY_SECONDS);
          expect(backoffSeconds(count + 1, p, () => 0)).toBeGreaterThanOrEqual(least);
        },
      ),
    );
  });

  it('treats a missing or malformed receive count as a first delivery', () => {
    expect(backoffSeconds(Number.NaN, policy, () => 0)).toBe(30);
    expect(backoffSeconds(0, policy, () => 0)).toBe(30);
  });
});
