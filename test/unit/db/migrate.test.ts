import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { retryRefusedLogin } from '../../../lambda/db/migrate';

/** A refusal as the server sends it (pg's DatabaseError, with a SQLSTATE). */
const serverError = (message: string, code: string) =>
  Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code });
const refused = () => serverError('password authentication failed', '28P01');

describe('retryRefusedLogin', () => {
  it('tries again after a refused login, waiting twice as long each time up to the cap', async () => {
    // Arrange: refused three times (a rotation's window), then accepted.
    const run = vi
      .fn()
      .mockRejectedValueOnce(refused())
      .mockRejectedValueOnce(refused())
      .mockRejectedValueOnce(serverError('PAM authentication failed', '28000'))
      .mockResolvedValue('migrated');
    const sleep = vi.fn(async (_ms: number) => {});
    const onRetry = vi.fn();
    // Act
    const result = await retryRefusedLogin(run, {
      attempts: 8,
      firstDelayMs: 1000,
      maxDelayMs: 3000,
      sleep,
      onRetry,
    });
    // Assert
    expect(result).toBe('migrated');
    expect(run).toHaveBeenCalledTimes(4);
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([1000, 2000, 3000]);
    expect(onRetry.mock.calls.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
  });

  it('gives up after the last attempt with the refusal', async () => {
    const run = vi.fn().mockRejectedValue(refused());
    const sleep = vi.fn(async (_ms: number) => {});
    await expect(
      retryRefusedLogin(run, { attempts: 3, firstDelayMs: 1, maxDelayMs: 1, sleep }),
    ).rejects.toMatchObject({ code: '28P01' });
    expect(run).toHaveBeenCalledTimes(3);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it('rethrows any other failure at once', async () => {
    const run = vi.fn().mockRejectedValue(Object.assign(new Error('syntax'), { code: '42601' }));
    const sleep = vi.fn(async (_ms: number) => {});
    await expect(
      retryRefusedLogin(run, { attempts: 5, firstDelayMs: 1, maxDelayMs: 1, sleep }),
    ).rejects.toThrow('syntax');
    expect(run).toHaveBeenCalledOnce();
    expect(sleep).not.toHaveBeenCalled();
  });
});
