/**
 * What a read replica for analysts relies on, on a real PostgreSQL streaming replica (a hot
 * standby made with pg_basebackup): the analyst role, its grants and the analytics view arrive
 * by replication, the standby refuses every write, and the recommended duplicate queries answer
 * there as on the primary. Starts its own servers (DATABASE_URL is not used).
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_ROLE } from '../../lambda/contract/roles';
import { sqlState, withClient } from '../../lambda/db/pool';
import { runLocal } from '../../lambda/local/run';
import { FILL_SQL } from '../bench/scale-fill';
import { shared } from '../bench/scale-queries';
import {
  type ReplicatedPostgres,
  replicaUnavailable,
  startReplicatedPostgres,
} from '../helpers/replica';

const unavailable = replicaUnavailable();

/** Runs `work` on `url` as the analyst role (SET ROLE: what its login would see). */
const asAnalyst = <T>(url: string, work: (client: pg.Client) => Promise<T>) =>
  withClient(url, async (client) => {
    await client.query(`SET ROLE ${ANALYST_ROLE}`);
    return work(client);
  });

/** The SQLSTATE `sql` fails with on `client`, or 'succeeded'. */
const refusal = (client: pg.Client, sql: string) =>
  client.query(sql).then(
    () => 'succeeded',
    (error: unknown) => sqlState(error),
  );

const count = (url: string, table = 'user_logins') =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0]?.n;
  });

/** Which columns of user_logins the analyst may read, by name. */
const analystColumns = (url: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string; readable: boolean }>(
      `SELECT attname AS name, has_column_privilege($1, 'user_logins', attname, 'SELECT') AS readable
         FROM pg_attribute WHERE attrelid = 'user_logins'::regclass AND attnum > 0 AND NOT attisdropped
        ORDER BY attnum`,
      [ANALYST_ROLE],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.readable]));
  });

describe.skipIf(unavailable !== undefined)(
  `a streaming replica for analysts${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let servers: ReplicatedPostgres | undefined;
    let written = 0;
    const server = () => {
      if (servers === undefined) throw new Error('the servers did not start');
      return servers;
    };

    beforeAll(async () => {
      // Arrange: the standby is made first, so everything below reaches it by streaming.
      servers = await startReplicatedPostgres();
      // The pipeline migrates the primary (its migration function) and writes through the handler.
      const { summary, services } = await runLocal({
        messages: 300,
        seed: 20,
        batchSize: 50,
        concurrency: 2,
        databaseUrl: servers.primaryUrl,
      });
      await services.stop();
      written = summary.written;
      // And a week of generated rows with shared addresses and devices, as the bench fills.
      await withClient(servers.primaryUrl, (client) =>
        client.query(FILL_SQL, [0, 20_000, 7, 5_000]),
      );
      await servers.waitForReplay();
    });
    afterAll(async () => {
      await servers?.stop();
    });

    it('has every row written on the primary after the base backup, once it has replayed', async () => {
      // Act
      const [primary, replica] = await Promise.all([
        count(server().primaryUrl),
        count(server().replicaUrl),
      ]);
      // Assert
      expect(written).toBeGreaterThan(0);
      expect(primary).toBe(written + 20_000);
      expect(replica).toBe(primary);
    });

    it('has the analyst role with the same column grants as the primary, none on the sealed PII', async () => {
      // Act
      const [primary, replica] = await Promise.all([
        analystColumns(server().primaryUrl),
        analystColumns(server().replicaUrl),
      ]);
      // Assert
      expect(replica).toEqual(primary);
      expect(replica).toMatchObject({
        user_id: true,
        masked_ip: true,
        masked_device_id: true,
        create_date: true,
        pii_sealed: false,
      });
    });

    it('lets the analyst read the analytics view and the allowed columns, not the sealed PII', async () => {
      // Act
      const result = await asAnalyst(server().replicaUrl, async (client) => ({
        view: (await client.query('SELECT count(*)::int AS n FROM user_logins_analytics')).rows[0]
          ?.n,
        columns: (
          await client.query('SELECT user_id, masked_ip, masked_device_id FROM user_logins')
        ).rowCount,
        sealed: await refusal(client, 'SELECT pii_sealed FROM user_logins LIMIT 1'),
      }));
      // Assert: 42501 insufficient_privilege.
      expect(result).toEqual({
        view: written + 20_000,
        columns: written + 20_000,
        sealed: '42501',
      });
    });

    it('refuses every write with SQLSTATE 25006, the analyst’s and the superuser’s alike', async () => {
      // Act
      const analyst = await asAnalyst(server().replicaUrl, async (client) => [
        await refusal(client, "UPDATE user_logins SET locale = 'XX'"),
        await refusal(client, 'DELETE FROM user_logins'),
      ]);
      const superuser = await withClient(server().replicaUrl, async (client) => [
        await refusal(
          client,
          "INSERT INTO user_logins (message_id, user_id, device_type, masked_ip, masked_device_id, app_version, app_version_raw, create_date) VALUES ('m', 'u', 'ios', 't', 't', 1, '0.0.1', current_date)",
        ),
        await refusal(client, 'CREATE TABLE scratch (id int)'),
        await refusal(client, `ALTER ROLE ${ANALYST_ROLE} LOGIN`),
      ]);
      // Assert: 25006 read_only_sql_transaction.
      expect([...analyst, ...superuser]).toEqual(Array(5).fill('25006'));
    });

    it('signs the analyst in with a password set on the primary', async () => {
      // Arrange: a login is a catalog write, so it is made on the primary and replicated.
      const password = `p${Date.now()}`;
      await withClient(server().primaryUrl, (client) =>
        client.query(`ALTER ROLE ${ANALYST_ROLE} LOGIN PASSWORD '${password}'`),
      );
      await server().waitForReplay();
      const url = new URL(server().replicaUrl);
      url.username = ANALYST_ROLE;
      url.password = password;
      // Act
      const user = await withClient(url.toString(), async (client) => {
        const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
        return rows[0]?.user;
      });
      // Assert
      expect(user).toBe(ANALYST_ROLE);
    });

    it.each(['masked_ip', 'masked_device_id'])(
      'answers the recommended 7-day duplicate query on %s as the primary does',
      async (column) => {
        // Act
        const run = (url: string) =>
          asAnalyst(url, async (client) => {
            const { rows } = await client.query<Record<string, string>>(
              `${shared(column)} ORDER BY 1`,
            );
            return rows;
          });
        const [primary, replica] = await Promise.all([
          run(server().primaryUrl),
          run(server().replicaUrl),
        ]);
        // Assert
        expect(primary.length).toBeGreaterThan(0);
        expect(replica).toEqual(primary);
      },
    );
  },
);
