/**
 * The local run's probe of what the handler needs beside SQS: its database login and its
 * masking secret. Used by the event source's breaker to learn when an outage is over.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { getSecretString } from '../aws/secrets';
import { reasonOf } from '../core/reason';
import { databaseAddress } from '../db/database-config';
import type { Probe } from './breaker';

export interface ProbeTarget {
  /** The handler's own login. */
  readonly databaseUrl: string;
  readonly secretsEndpoint: string;
  readonly maskingSecretId: string;
}

// A probe answers within seconds or counts as not answering.
const PROBE_TIMEOUT_MS = 5_000;

/** A probe: SELECT 1 as the handler's login, then the masking secret; names what fails. */
export function dependencyProbe(target: ProbeTarget): Probe {
  const secrets = new SecretsManagerClient({
    endpoint: target.secretsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { requestTimeout: PROBE_TIMEOUT_MS, throwOnRequestTimeout: true },
  });
  const database = `PostgreSQL at ${databaseAddress({ kind: 'url', url: target.databaseUrl })}`;
  return async () => {
    const client = new pg.Client({
      connectionString: target.databaseUrl,
      connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      query_timeout: PROBE_TIMEOUT_MS,
    });
    // A connection dropped under the probe is its answer, not an unhandled error.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      return { service: database, reason: reasonOf(error) };
    } finally {
      await client.end().catch(() => {});
    }
    try {
      await getSecretString(secrets, target.maskingSecretId);
    } catch (error) {
      return {
        service: `Secrets Manager at ${target.secretsEndpoint}`,
        reason: reasonOf((error as Error).cause ?? error),
      };
    }
    return undefined;
  };
}
