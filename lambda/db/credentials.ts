/**
 * Where a new database connection's password comes from: a Secrets Manager secret (cached,
 * forgotten when the server refuses it) or an IAM authentication token, signed locally per
 * connection (no call to an RDS endpoint, so it works from an isolated subnet).
 */
import { Signer } from '@aws-sdk/rds-signer';
import { TransientError } from '../core/errors';

export interface DatabaseCredential {
  /** The password for a new connection. Throws TransientError when none can be had. */
  password(): Promise<string>;
  /** Called after the server refused a password: the next password() fetches a fresh one. */
  invalidate(): void;
}

/** A secret's text read through a cache (aws/secrets.ts's `cached` makes one). */
export interface CachedSecret {
  /** The secret's text, loaded when absent or stale. */
  get(): Promise<string>;
  /** Forgets the text: the next get() loads it again. */
  invalidate(): void;
}

/** A password read from a secret (a JSON `password` field) through a cache. */
export function secretCredential(secret: CachedSecret): DatabaseCredential {
  return {
    async password() {
      const text = await secret.get();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        // No cause: a JSON parse error quotes the text, which is the secret.
        throw new TransientError('database secret is not JSON');
      }
      const password = (parsed as { password?: unknown } | null)?.password;
      if (typeof password !== 'string')
        throw new TransientError('database secret has no "password"');
      return password;
    },
    invalidate: () => secret.invalidate(),
  };
}

export interface IamTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
}

/**
 * An IAM database authentication token (valid 15 minutes) for every new connection, signed
 * with the function's role credentials from the default provider chain.
 */
export function iamCredential(target: IamTarget): DatabaseCredential {
  const signer = new Signer({
    hostname: target.host,
    port: target.port,
    username: target.user,
    region: target.region,
  });
  return {
    async password() {
      try {
        return await signer.getAuthToken();
      } catch (error) {
        throw new TransientError('cannot sign an IAM database token', { cause: error });
      }
    },
    // Each connection signs anew; after a refusal the next one simply signs again.
    invalidate() {},
  };
}
