import { EventEmitter } from 'node:events';
import pg, { type Pool } from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, TransientError } from '../../../lambda/core/errors';
import { isConnectionError, sqlState } from '../../../lambda/db/pool';
import type { LoginRow } from '../../../lambda/db/store';
import { createLoginStore } from '../../../lambda/db/store';

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

/** What INSERT … RETURNING message_id answers when it wrote the rows of `ids`. */
const returning = (...ids: string[]) => ({
  rowCount: ids.length,
  rows: ids.map((message_id) => ({ message_id })),
});

/** An error as the server sends it (pg's DatabaseError, with a SQLSTATE). */
const pgError = (code: string, message: string, fields: { constraint?: string } = {}) =>
  Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code, ...fields });

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
    expect(result).toEqual({ rows: 2, inserted: 2, existing: [], rejected: [], statements: 1 });
    expect(streamed.join('')).toContain('a\ttab\\there\\\\\tios');
    expect(streamed.join('')).toContain('\\N');
    expect(client.release).toHaveBeenCalledWith();
  });

  it('falls back to INSERT … ON CONFLICT when COPY meets a redelivered message id, and names it', async () => {
    const duplicate = pgError('23505', 'duplicate key', {
      constraint: 'user_logins_message_id_key',
    });
    const query = vi.fn().mockResolvedValue(returning('b'));
    const store = createLoginStore(
      poolOf({ connect: async () => copyClient(duplicate, []), query }),
    );
    const result = await store.insert([row('a'), row('b')]);
    expect(result).toEqual({
      rows: 2,
      inserted: 1,
      existing: ['a'],
      rejected: [],
      statements: 2,
    });
    expect(query.mock.calls[0]?.[0].text).toContain('ON CONFLICT DO NOTHING');
  });

  it('names a row already there once per row, when two rows of the batch share its id', async () => {
    const duplicate = pgError('23505', 'duplicate key');
    const query = vi.fn().mockResolvedValue(returning('a', 'b'));
    const store = createLoginStore(
      poolOf({ connect: async () => copyClient(duplicate, []), query }),
    );
    const result = await store.insert([row('a'), row('a'), row('b')]);
    expect(result).toMatchObject({ rows: 3, inserted: 2, existing: ['a'] });
  });

  it('retries once on a fresh connection when a stale socket fails', async () => {
    const query = vi
      .fn()
      .mockRejectedValueOnce(socketError())
      .mockResolvedValue(returning('a', 'b'));
    const store = createLoginStore(poolOf({ connect: () => Promise.reject(socketError()), query }));
    const result = await store.insert([row('a'), row('b')]);
    expect(result).toEqual({ rows: 2, inserted: 2, existing: [], rejected: [], statements: 3 });
  });

  it('destroys a connection whose COPY failed on the socket, without an unhandled error event', async () => {
    const client = copyClient(socketError(), [], socketError());
    const store = createLoginStore(
      poolOf({ connect: async () => client, query: vi.fn().mockResolvedValue(returning('a')) }),
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
    const missing = pgError('42P01', 'relation "user_logins" does not exist');
    const query = vi.fn();
    const store = createLoginStore(poolOf({ connect: async () => copyClient(missing, []), query }));
    await expect(store.insert([row('a')])).rejects.toBeInstanceOf(ConfigError);
    expect(query).not.toHaveBeenCalled();
  });

  it('raises a ConfigError naming the SQLSTATE when the role lacks a grant', async () => {
    const denied = pgError('42501', 'permission denied for table user_logins');
    const store = createLoginStore(poolOf({ connect: async () => copyClient(denied, []) }));
    await expect(store.insert([row('a')])).rejects.toThrow(
      'copy of 1 rows failed: permission denied for table user_logins (SQLSTATE 42501)',
    );
  });

  it('raises a TransientError for a server error that waiting may cure', async () => {
    const shutdown = pgError('53300', 'sorry, too many clients already');
    const store = createLoginStore(poolOf({ connect: async () => copyClient(shutdown, []) }));
    await expect(store.insert([row('a')])).rejects.toBeInstanceOf(TransientError);
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
    const duplicate = pgError('23505', 'duplicate key');
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
    const query = vi.fn().mockResolvedValue(returning());
    const store = createLoginStore(poolOf({ connect: async () => client, query }));
    const rows = Array.from({ length: 2_000 }, (_, i) => row(`m-${i}`));
    // Act
    const result = await store.insert(rows);
    // Assert
    expect(result.rows).toBe(2_000);
    expect(query.mock.calls[0]?.[0].values[0]).toHaveLength(2_000);
  });
});

describe('SQLSTATE classification', () => {
  it('reads a SQLSTATE only from an error the server sent, not from a socket errno', () => {
    // Arrange: EPIPE has the shape of a SQLSTATE (five capitals) but is Node's.
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    // Act / Assert
    expect(sqlState(epipe)).toBeUndefined();
    expect(isConnectionError(epipe)).toBe(true);
    expect(sqlState(pgError('23505', 'duplicate key'))).toBe('23505');
    expect(isConnectionError(pgError('57P01', 'terminating connection'))).toBe(true);
    expect(isConnectionError(pgError('23505', 'duplicate key'))).toBe(false);
  });
});
