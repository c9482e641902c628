/**
 * Where and how to reach PostgreSQL: the settings the pool (pool.ts) connects with and the
 * configuration (lambda/functions/config.ts) reads from the environment, and how to name
 * one in a message.
 */

export type SslMode = 'disable' | 'require' | 'verify-full';

export interface DatabaseServer {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly ssl: SslMode;
}

export type DatabaseConfig =
  | { readonly kind: 'url'; readonly url: string }
  | (DatabaseServer & {
      readonly kind: 'secret';
      /** Secrets Manager id of a JSON secret with a `password` field (RDS-generated). */
      readonly passwordSecretId: string;
    })
  | (DatabaseServer & {
      /** IAM database authentication: a token signed locally per connection. */
      readonly kind: 'iam';
      readonly region: string;
    });

/** host:port/database of a database config, without user or password. */
export function databaseAddress(database: DatabaseConfig): string {
  if (database.kind !== 'url') return `${database.host}:${database.port}/${database.database}`;
  const url = new URL(database.url);
  return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
}
