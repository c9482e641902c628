import { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import { describe, expect, it, vi } from 'vitest';
import type { LoginRow } from '../../lambda/db/store';
import { createLoginStore } from '../../lambda/db/store';
import { TransientError } from '../../lambda/errors';

// The pg edge faked to make connection faults happen on demand; the real database paths
// (COPY, redelivery fallback, bisection) run in test/integration.

const row = (messageId: string, userId = 'u'): LoginRow => ({
  messageId,
  userId,
  deviceType: 'ios',
  maskedIp: 'k1:a',
  maskedDeviceId: 'k1:b',
  locale: null,
  appVersion: 1,
  appVersionRaw: '0.0.1',
  createDate: '2026-11-22',
  keyId: 'k1',
  recoveryKeyId: null,
  sealed: null,
});

const socketError = () => new Error('Connection terminated unexpectedly');

/** A client whose COPY ends as `outcome` says, recording what was streamed. */
function copyClient(outcome: 'finish' | Error, streamed: string[], dropped?: Error) {
  const client = Object.assign(new EventEmitter(), {
    query(stream: EventEmitter & { write: (c: string) => boolean; end: (c?: string) => void }) {
      stream.write = (chunk: string) => {
        streamed.push(chunk);
        return true;
      };
      stream.end = (chunk?: string) => {
        if (chunk) streamed.push(chunk);
        setImmediate(() => {
          // pg reports a dropped socket on the checked-out client too.
          if (dropped) client.emit('error', dropped);
          if (outcome === 'finish') stream.emit('finish');
          else stream.emit('error', outcome);
        });
      };
      return stream;
    },
    release: vi.fn(),
  });
  return client;
}

const poolOf = (parts: { connect?: () => Promise<unknown>; query?: ReturnType<typeof vi.fn> }) =>
  ({ connect: parts.connect, query: parts.query ?? vi.fn() }) as unknown as Pool;

describe('login store', () => {
  it('writes a clean batch with one COPY and escapes COPY text', async () => {
    const streamed: string[] = [];
    const client = copyClient('finish', streamed);
    const store = createLoginStore(poolOf({ connect: async () => client }));
    const result = await store.insert([row('a', 'tab\there\\'), row('b')]);
    expect(result).toEqual({ rows: 2, inserted: 2, rejected: [], statements: 1 });
    expect(streamed.join('')).toContain('a\ttab\\there\\\\\tios');
    expect(streamed.join('')).toContain('\\N');
    expect(client.release).toHaveBeenCalledWith();
  });

  it('falls back to INSERT … ON CONFLICT when COPY meets a redelivered message id', async () => {
    const duplicate = Object.assign(new Error('duplicate key'), {
      code: '23505',
      constraint: 'user_logins_message_id_key',
    });
    const query = vi.fn().mockResolvedValue({ rowCount: 1 });
    const store = createLoginStore(
      poolOf({ connect: async () => copyClient(duplicate, []), query }),
    );
    const result = await store.insert([row('a'), row('b')]);
    expect(result).toEqual({ rows: 2, inserted: 1, rejected: [], statements: 2 });
    expect(query.mock.calls[0]?.[0].text).toContain('ON CONFLICT (message_id) DO NOTHING');
  });

  it('retries once on a fresh connection when a stale socket fails', async () => {
    const query = vi.fn().mockRejectedValueOnce(socketError()).mockResolvedValue({ rowCount: 2 });
    const store = createLoginStore(poolOf({ connect: () => Promise.reject(socketError()), query }));
    const result = await store.insert([row('a'), row('b')]);
    expect(result).toEqual({ rows: 2, inserted: 2, rejected: [], statements: 3 });
  });

  it('destroys a connection whose COPY failed on the socket, without an unhandled error event', async () => {
    const client = copyClient(socketError(), [], socketError());
    const store = createLoginStore(
      poolOf({ connect: async () => client, query: vi.fn().mockResolvedValue({ rowCount: 1 }) }),
    );
    await store.insert([row('a')]);
    expect(client.release).toHaveBeenCalledWith(expect.any(Error));
  });

  it('raises a TransientError when the database stays unreachable', async () => {
    const query = vi.fn().mockRejectedValue(socketError());
    const store = createLoginStore(poolOf({ connect: () => Promise.reject(socketError()), query }));
    await expect(store.insert([row('a')])).rejects.toBeInstanceOf(TransientError);
    expect(query).toHaveBeenCalledTimes(2);
  });

  it('does not fall back or retry when the server refuses the statement itself', async () => {
    const missing = Object.assign(new Error('relation "user_logins" does not exist'), {
      code: '42P01',
    });
    const query = vi.fn();
    const store = createLoginStore(poolOf({ connect: async () => copyClient(missing, []), query }));
    await expect(store.insert([row('a')])).rejects.toBeInstanceOf(TransientError);
    expect(query).not.toHaveBeenCalled();
  });

  it('destroys the connection when producing a row fails mid-COPY, and retries the batch', async () => {
    const client = copyClient('finish', []);
    const store = createLoginStore(poolOf({ connect: async () => client }));
    const rows = (function* () {
      yield row('a');
      throw new RangeError('a row could not be built');
    })();
    await expect(store.insert(rows)).rejects.toBeInstanceOf(TransientError);
    expect(client.release).toHaveBeenCalledWith(expect.any(RangeError));
  });

  it('takes every row to the fallback when COPY fails while waiting for the socket to drain', async () => {
    // Arrange: the socket is full after the first chunk, and the COPY then fails (a redelivery).
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' });
    const client = Object.assign(new EventEmitter(), {
      query(stream: EventEmitter & { write: (c: string) => boolean; end: (c?: string) => void }) {
        stream.write = () => {
          setImmediate(() => stream.emit('error', duplicate));
          return false;
        };
        stream.end = () => {};
        return stream;
      },
      release: vi.fn(),
    });
    const query = vi.fn().mockResolvedValue({ rowCount: 0 });
    const store = createLoginStore(poolOf({ connect: async () => client, query }));
    const rows = Array.from({ length: 2_000 }, (_, i) => row(`m-${i}`));
    // Act
    const result = await store.insert(rows);
    // Assert
    expect(result.rows).toBe(2_000);
    expect(query.mock.calls[0]?.[0].values[0]).toHaveLength(2_000);
  });
});
