import { describe, expect, it } from 'vitest';
import {
  createBreaker,
  type Outage,
  OutageError,
  type ProbeFailure,
} from '../../../lambda/local/breaker';

/** A clock that moves only when the breaker sleeps. */
function fakeTime() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}

const down: ProbeFailure = {
  service: 'PostgreSQL at 127.0.0.1:5432/postgres',
  reason: 'ECONNREFUSED',
};

describe('the event source breaker', () => {
  it('is ready at once while nothing failed', async () => {
    const breaker = createBreaker({ probe: async () => down, limitMs: 1_000 });
    await expect(breaker.ready()).resolves.toBeUndefined();
    expect(breaker.outage).toBeUndefined();
  });

  it('after a trip, holds receiving until the probe answers, probing with growing pauses', async () => {
    // Arrange: a dependency that answers on the fifth probe.
    const time = fakeTime();
    const answers = [down, down, down, down, undefined];
    const changes: (Outage | undefined)[] = [];
    const breaker = createBreaker({
      probe: async () => answers.shift(),
      limitMs: 60_000,
      onChange: (outage) => changes.push(outage),
      ...time,
    });
    // Act
    breaker.trip();
    breaker.trip();
    const outage = breaker.outage;
    await breaker.ready();
    // Assert
    expect(outage?.since).toBe(1_000_000);
    expect(time.sleeps).toEqual([500, 1_000, 2_000, 4_000, 5_000]);
    expect(answers).toEqual([]);
    expect(changes.at(-2)).toMatchObject(down);
    expect(changes.at(-1)).toBeUndefined();
    expect(breaker.outage).toBeUndefined();
  });

  it('fails every waiter with an OutageError naming the service once the limit passes', async () => {
    // Arrange
    const time = fakeTime();
    const breaker = createBreaker({ probe: async () => down, limitMs: 20_000, ...time });
    // Act
    breaker.trip();
    const waiters = [breaker.ready(), breaker.ready()];
    // Assert
    for (const waiter of waiters) {
      await expect(waiter).rejects.toBeInstanceOf(OutageError);
      await expect(waiter).rejects.toThrow(
        /^PostgreSQL at 127\.0\.0\.1:5432\/postgres did not answer for 2\d s: ECONNREFUSED$/,
      );
    }
  });

  it('counts a probe that throws as not answering', async () => {
    const time = fakeTime();
    let calls = 0;
    const breaker = createBreaker({
      probe: async () => {
        calls++;
        if (calls === 1) throw new Error('probe broke');
        return undefined;
      },
      limitMs: 60_000,
      ...time,
    });
    breaker.trip();
    await breaker.ready();
    expect(calls).toBe(2);
  });
});
