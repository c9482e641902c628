import { afterEach, describe, expect, it, vi } from 'vitest';
import { cached } from '../../../lambda/aws/secrets';
import { TransientError } from '../../../lambda/core/errors';
import { iamCredential, secretCredential } from '../../../lambda/db/credentials';
import { snapshotEnv } from '../../helpers/env';

const env = snapshotEnv();
afterEach(() => env.restore());

describe('iamCredential', () => {
  it('signs an rds-db:connect token for the host, port and user locally, with no network', async () => {
    // Arrange: credentials as Lambda provides them; no endpoint could be reached from here.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'session',
    });
    const credential = iamCredential({
      host: 'db.abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      user: 'login_queue_writer',
      region: 'eu-west-1',
    });
    // Act
    const token = await credential.password();
    // Assert
    const url = new URL(`https://${token}`);
    expect(url.host).toBe('db.abc.eu-west-1.rds.amazonaws.com:5432');
    expect(url.searchParams.get('Action')).toBe('connect');
    expect(url.searchParams.get('DBUser')).toBe('login_queue_writer');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/rds-db\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(() => credential.invalidate()).not.toThrow();
  });

  it('fails with a TransientError when there are no credentials to sign with', async () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
      delete process.env[name];
    Object.assign(process.env, {
      AWS_PROFILE: 'login-queue-test-no-such-profile',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const credential = iamCredential({ host: 'h', port: 5432, user: 'u', region: 'us-east-1' });
    await expect(credential.password()).rejects.toBeInstanceOf(TransientError);
  });
});

describe('secretCredential', () => {
  it('reads the password field, and reads the secret again after invalidate', async () => {
    const load = vi
      .fn()
      .mockResolvedValueOnce('{"username":"m","password":"old"}')
      .mockResolvedValueOnce('{"username":"m","password":"new"}');
    const credential = secretCredential(cached(load, 60_000, () => {}));
    await expect(credential.password()).resolves.toBe('old');
    await expect(credential.password()).resolves.toBe('old');
    credential.invalidate();
    await expect(credential.password()).resolves.toBe('new');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it.each([
    ['not JSON', 'hunter2', 'database secret is not JSON'],
    ['without a password', '{"username":"m"}', 'database secret has no "password"'],
  ])(
    'rejects a secret %s with a TransientError that does not quote it',
    async (_, text, message) => {
      const credential = secretCredential(
        cached(
          async () => text,
          0,
          () => {},
        ),
      );
      const error = await credential.password().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as Error).message).toBe(message);
      expect((error as Error).cause).toBeUndefined();
    },
  );
});
