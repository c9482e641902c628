/**
 * Reading secrets from AWS Secrets Manager, and caching what is derived from them.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, TransientError } from '../core/errors';

// Answers that name a configuration fault (wrong id, missing grant, unusable key): waiting
// does not cure them. Anything else (throttling, network, 5xx) is transient.
const CONFIGURATION_FAULTS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
]);

/**
 * Fetches a secret's SecretString. Throws ConfigError when the secret is missing or not ours
 * to read, TransientError otherwise (each with the SDK error as cause).
 */
export async function getSecretString(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string> {
  let secret: string | undefined;
  try {
    secret = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    const name = (error as { name?: string } | undefined)?.name ?? '';
    if (CONFIGURATION_FAULTS.has(name)) {
      throw new ConfigError(`cannot read secret ${secretId}: ${name}`, { cause: error });
    }
    throw new TransientError(`cannot read secret ${secretId}`, { cause: error });
  }
  if (secret === undefined) throw new ConfigError(`secret ${secretId} has no SecretString`);
  return secret;
}

export interface Cached<T> {
  /** The cached value, loading it when absent or older than the TTL. */
  get(): Promise<T>;
  /** Forgets the value (e.g. a password the server refused): the next get() loads, or throws. */
  invalidate(): void;
}

/**
 * Caches `load()` for `ttlMs`. Concurrent callers share one load. When a refresh fails
 * and an older value exists, the older value is served (and `onStale` told) so that a
 * Secrets Manager blip does not stop a running pipeline; the next call tries again.
 */
export function cached<T>(
  load: () => Promise<T>,
  ttlMs: number,
  onStale: (error: unknown) => void,
  now: () => number = Date.now,
): Cached<T> {
  let value: { data: T; at: number } | undefined;
  let inflight: Promise<T> | undefined;
  const refresh = async (): Promise<T> => {
    try {
      const data = await load();
      value = { data, at: now() };
      return data;
    } catch (error) {
      if (value === undefined) throw error;
      onStale(error);
      return value.data;
    } finally {
      inflight = undefined;
    }
  };
  return {
    get() {
      if (value !== undefined && now() - value.at < ttlMs) return Promise.resolve(value.data);
      inflight ??= refresh();
      return inflight;
    },
    invalidate() {
      value = undefined;
    },
  };
}
