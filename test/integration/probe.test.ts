/**
 * The local run's probe of the handler's dependencies, against a real PostgreSQL and the
 * Secrets Manager stand-in: it names what does not answer, with its address and no password.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dependencyProbe } from '../../lambda/local/probe';
import { startLocalSecretsManager } from '../../lambda/local/secrets-manager';
import { createTestDatabase } from '../helpers/database';
import { maskingSecret } from '../helpers/sqs';
import { proxyDatabase } from '../helpers/tcp-proxy';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function dependencies() {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const { proxy, url } = await proxyDatabase(db.url);
  cleanups.push(() => proxy.stop());
  const secrets = await startLocalSecretsManager();
  cleanups.push(() => secrets.stop().catch(() => {}));
  const maskingSecretId = secrets.put('mask', maskingSecret());
  const probe = dependencyProbe({
    databaseUrl: url,
    secretsEndpoint: secrets.endpoint,
    maskingSecretId,
  });
  return { proxy, url, secrets, probe };
}

describe('the dependency probe', () => {
  it('answers undefined while PostgreSQL and the masking secret answer', async () => {
    const { probe } = await dependencies();
    await expect(probe()).resolves.toBeUndefined();
  });

  it('names PostgreSQL and its address, without the password, when the database does not answer', async () => {
    // Arrange
    const { proxy, url, probe } = await dependencies();
    await proxy.cut();
    // Act
    const failure = await probe();
    // Assert
    const { pathname, password } = new URL(url);
    expect(failure).toEqual({
      service: `PostgreSQL at 127.0.0.1:${proxy.port}${pathname}`,
      reason: expect.stringContaining('ECONNREFUSED'),
    });
    if (password) expect(JSON.stringify(failure)).not.toContain(password);
  });

  it('names Secrets Manager and its endpoint when the key source does not answer', async () => {
    // Arrange
    const { secrets, probe } = await dependencies();
    await secrets.stop();
    // Act
    const failure = await probe();
    // Assert
    expect(failure).toEqual({
      service: `Secrets Manager at ${secrets.endpoint}`,
      reason: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
