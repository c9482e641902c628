import type { Pool } from 'pg';
import { describe, expect, it, vi } from 'vitest';
import type { LoginRow } from '../../lambda/db/store';
import { createLoginStore } from '../../lambda/db/store';
import { TransientError } from '../../lambda/errors';

const row = (messageId: string): LoginRow => ({
  messageId,
  userId: 'u',
  deviceType: 'ios',
  maskedIp: 'k1:a',
  maskedDeviceId: 'k1:b',
  locale: null,
  appVersion: 1,
  appVersionRaw: '0.0.1',
  createDate: '2026-11-22',
  keyId: 'k1',
});

const poolOf = (query: ReturnType<typeof vi.fn>) => ({ query }) as unknown as Pool;
const socketError = () => Object.assign(new Error('Connection terminated unexpectedly'), {});

describe('login store (pg edge faked; the real database is in test/integration)', () => {
  it('retries once on a fresh connection when a stale socket fails', async () => {
    const query = vi.fn().mockRejectedValueOnce(socketError()).mockResolvedValue({ rowCount: 2 });
    const result = await createLoginStore(poolOf(query)).insert([row('a'), row('b')]);
    expect(result).toEqual({ inserted: 2, rejected: [], statements: 2 });
  });

  it('raises a TransientError when the retry fails too', async () => {
    const query = vi.fn().mockRejectedValue(socketError());
    await expect(createLoginStore(poolOf(query)).insert([row('a')])).rejects.toBeInstanceOf(
      TransientError,
    );
    expect(query).toHaveBeenCalledTimes(2);
  });

  it('does not retry a statement the server refused for another reason', async () => {
    const query = vi
      .fn()
      .mockRejectedValue(Object.assign(new Error('relation does not exist'), { code: '42P01' }));
    await expect(createLoginStore(poolOf(query)).insert([row('a')])).rejects.toBeInstanceOf(
      TransientError,
    );
    expect(query).toHaveBeenCalledTimes(1);
  });

  it('sends one statement for a clean batch of any size, with one array per column', async () => {
    const query = vi.fn().mockResolvedValue({ rowCount: 10_000 });
    const rows = Array.from({ length: 10_000 }, (_, i) => row(String(i)));
    const result = await createLoginStore(poolOf(query)).insert(rows);
    expect(result.statements).toBe(1);
    expect(query.mock.calls[0]?.[0].values).toHaveLength(10);
    expect(query.mock.calls[0]?.[0].values[0]).toHaveLength(10_000);
  });
});
