/**
 * `npm run invoke` tells the truth: a function that throws exits 1 with one line naming the
 * cause; against a database that outlives the run it masks with a keys file's key (as
 * `npm start` does), so the same value gives the same token run after run.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeysFile } from '../../lambda/cli/keys-file';
import { migrate } from '../../lambda/db/migrate';
import { startLocalSecretsManager } from '../../lambda/local/secrets-manager';
import { cleanEnv, ROOT, runScript } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const VALID = `${ROOT}lambda/local/events/valid-batch.json`;
// Nothing listens there: the function's SQS calls fail at once, on this machine.
const NO_SQS = 'http://127.0.0.1:9';

let dir: string;
let db: TestDatabase;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'login-queue-invoke-'));
  db = await createTestDatabase();
  // Already migrated, as a database that outlives runs is.
  await migrate(db.pool);
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** valid-batch.json with other message ids, so that a second run is not a duplicate. */
function eventWithIds(prefix: string): string {
  const file = join(dir, `${prefix}.json`);
  writeFileSync(file, readFileSync(VALID, 'utf8').replaceAll('6a1f7b64-93b4', prefix));
  return file;
}

describe('npm run invoke', () => {
  it('exits 1 with one line naming the cause when the function throws (its masking secret does not exist), and prints no response', async () => {
    // Arrange: a Secrets Manager that does not hold the secret.
    const secrets = await startLocalSecretsManager();
    try {
      // Act
      const result = await runScript(
        'invoke',
        ['--event', VALID],
        cleanEnv({
          DATABASE_URL: db.url,
          MASKING_SECRET_ID: 'login-queue/absent',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
          AWS_ENDPOINT_URL_SQS: NO_SQS,
        }),
        dir,
      );
      // Assert
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      const verdicts = result.stderr.split('\n').filter((line) => line.startsWith('invoke'));
      expect(verdicts).toEqual([
        expect.stringMatching(
          /^invoke failed: configuration error: cannot read secret login-queue\/absent: ResourceNotFoundException/,
        ),
      ]);
    } finally {
      await secrets.stop();
    }
  });

  it('with a DATABASE_URL and no masking secret, masks under a keys file it writes and reuses: one ip, one token across runs', async () => {
    // Act: two runs in the same directory, each on messages of its own.
    const env = cleanEnv({ DATABASE_URL: db.url });
    const first = await runScript('invoke', ['--event', eventWithIds('11111111-1111')], env, dir);
    const second = await runScript('invoke', ['--event', eventWithIds('22222222-2222')], env, dir);
    // Assert
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const keysFile = join(dir, 'login-queue-keys.json');
    expect(first.stderr).toContain('invoke: keys generated into login-queue-keys.json, mode 600');
    expect(second.stderr).toContain('invoke: keys from login-queue-keys.json');
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    const keyId = JSON.parse(readKeysFile(keysFile).maskingSecret).current as string;
    const { rows } = await db.pool.query<{ key_id: string; tokens: number; rows: number }>(
      `SELECT key_id, count(DISTINCT masked_ip)::int AS tokens, count(*)::int AS rows
         FROM user_logins GROUP BY key_id`,
    );
    // valid-batch.json holds two distinct ips over three records, each run written once.
    expect(rows).toEqual([{ key_id: keyId, tokens: 2, rows: 6 }]);
  }, 240_000);

  it('refuses --keys-file together with MASKING_SECRET_ID, before running anything', async () => {
    const result = await runScript(
      'invoke',
      ['--event', VALID, '--keys-file', join(dir, 'other-keys.json')],
      cleanEnv({ DATABASE_URL: db.url, MASKING_SECRET_ID: 'login-queue/masking-key' }),
      dir,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'invoke: --keys-file and MASKING_SECRET_ID both name the masking key; give one (see --help)\n',
    );
  });

  it('names DATABASE_URL, not a flag it has not got, when that URL is malformed', async () => {
    const result = await runScript(
      'invoke',
      ['--event', VALID],
      cleanEnv({ DATABASE_URL: 'not-a-url' }),
      dir,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^invoke: DATABASE_URL must be a URL like postgres:/);
    expect(result.stderr).not.toContain('--database-url');
  });
});
