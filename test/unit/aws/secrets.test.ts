import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cached, getSecretString } from '../../../lambda/aws/secrets';
import { ConfigError, TransientError } from '../../../lambda/core/errors';

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => secretsManager.reset());

describe('getSecretString', () => {
  it('returns the SecretString of the given id', async () => {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: 'mask' })
      .resolves({ SecretString: '{"a":1}' });
    await expect(getSecretString(new SecretsManagerClient({}), 'mask')).resolves.toBe('{"a":1}');
  });

  it('turns a Secrets Manager failure into a TransientError with the cause', async () => {
    const cause = Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    secretsManager.on(GetSecretValueCommand).rejects(cause);
    const error = await getSecretString(new SecretsManagerClient({}), 'mask').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).cause).toBe(cause);
  });

  it.each(['ResourceNotFoundException', 'AccessDeniedException'])(
    'turns %s into a ConfigError naming the secret: waiting cannot fix it',
    async (name) => {
      secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('no'), { name }));
      const error = await getSecretString(new SecretsManagerClient({}), 'mask').catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(`cannot read secret mask: ${name}`);
    },
  );

  it('rejects a binary-only secret', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(getSecretString(new SecretsManagerClient({}), 'mask')).rejects.toThrow(
      'no SecretString',
    );
  });
});

describe('cached', () => {
  it('loads once within the TTL and shares a load between concurrent callers', async () => {
    let clock = 0;
    const load = vi.fn(async () => `v${load.mock.calls.length}`);
    const value = cached(
      load,
      1000,
      () => {},
      () => clock,
    );
    await expect(Promise.all([value.get(), value.get()])).resolves.toEqual(['v1', 'v1']);
    clock = 999;
    await expect(value.get()).resolves.toBe('v1');
    clock = 1000;
    await expect(value.get()).resolves.toBe('v2');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('serves the previous value when a refresh fails, and tells onStale', async () => {
    let clock = 0;
    const load = vi
      .fn()
      .mockResolvedValueOnce('v1')
      .mockRejectedValueOnce(new Error('down'))
      .mockResolvedValue('v3');
    const onStale = vi.fn();
    const value = cached(load, 10, onStale, () => clock);
    await value.get();
    clock = 20;
    await expect(value.get()).resolves.toBe('v1');
    expect(onStale).toHaveBeenCalledOnce();
    await expect(value.get()).resolves.toBe('v3');
  });

  it('fails when the first load fails, and tries again on the next call', async () => {
    const load = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue('v2');
    const value = cached(load, 10, () => {});
    await expect(value.get()).rejects.toThrow('down');
    await expect(value.get()).resolves.toBe('v2');
  });

  it('loads again after invalidate, and then fails rather than serve the forgotten value', async () => {
    const load = vi
      .fn()
      .mockResolvedValueOnce('old')
      .mockResolvedValueOnce('new')
      .mockRejectedValue(new Error('down'));
    const value = cached(load, 60_000, () => {});
    await expect(value.get()).resolves.toBe('old');
    value.invalidate();
    await expect(value.get()).resolves.toBe('new');
    value.invalidate();
    await expect(value.get()).rejects.toThrow('down');
  });
});
