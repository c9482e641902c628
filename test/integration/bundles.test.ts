/**
 * The bundle no other test loads, SecretInit, run as shipped against a Secrets Manager
 * stand-in over its JSON protocol (the two calls it makes); and `npm run bench:bundles`, which
 * measures every bundle.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLE, DIST } from '../../lambda/contract/bundling';
import { loadBundle } from '../../lambda/local/bundle';
import { ROOT } from '../helpers/cli';
import { snapshotEnv } from '../helpers/env';

const run = promisify(execFile);
const env = snapshotEnv();

interface StoredSecret {
  versions: Record<string, string[]>;
  puts: { SecretString: string; ClientRequestToken: string }[];
}

/** DescribeSecret and PutSecretValue of one secret, answered as Secrets Manager does. */
function secretsStandIn(secret: StoredSecret): Server {
  return createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      const input = JSON.parse(body) as { SecretId: string } & StoredSecret['puts'][number];
      const reply = (answer: object) => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify({ ARN: input.SecretId, Name: 'masking', ...answer }));
      };
      const target = request.headers['x-amz-target'];
      if (target === 'secretsmanager.DescribeSecret') {
        return reply({ VersionIdsToStages: secret.versions });
      }
      if (target === 'secretsmanager.PutSecretValue') {
        secret.puts.push({
          SecretString: input.SecretString,
          ClientRequestToken: input.ClientRequestToken,
        });
        secret.versions[input.ClientRequestToken] = ['AWSCURRENT'];
        return reply({ VersionId: input.ClientRequestToken, VersionStages: ['AWSCURRENT'] });
      }
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ __type: 'UnsupportedOperation', message: `${target}` }));
    });
  });
}

describe('the SecretInit bundle', () => {
  const secret: StoredSecret = { versions: {}, puts: [] };
  const server = secretsStandIn(secret);
  type SecretInit = () => Promise<{ maskingKeyRing: 'created' | 'kept' }>;
  let secretInit: SecretInit;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    secretInit = loadBundle<SecretInit>(
      {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}`,
        MASKING_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:masking',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      'secret-init',
    );
  });
  afterAll(async () => {
    env.restore();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    secret.versions = {};
    secret.puts = [];
  });

  it('gives an empty masking secret a key ring of one 32-byte key', async () => {
    // Act
    const result = await secretInit();
    // Assert
    expect(result).toEqual({ maskingKeyRing: 'created' });
    expect(secret.puts).toHaveLength(1);
    const ring = JSON.parse(secret.puts[0]?.SecretString ?? '') as Record<string, string>;
    expect(ring.current).toBe('k1');
    expect(Buffer.from(ring.k1 ?? '', 'base64url')).toHaveLength(32);
  });

  it('keeps a secret that already has a current value, writing nothing', async () => {
    // Arrange
    secret.versions = { 'rotated-1': ['AWSCURRENT'] };
    // Act
    const result = await secretInit();
    // Assert
    expect(result).toEqual({ maskingKeyRing: 'kept' });
    expect(secret.puts).toEqual([]);
  });
});

describe('npm run bench:bundles', () => {
  const bench = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', `${ROOT}test/bench/bundles.ts`, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });

  it('prints size, gzip size and module-load CPU of every bundle', async () => {
    // Act: the bundles the global setup built.
    const { stdout } = await bench(['--dist', DIST, '--runs', '1']);
    // Assert
    expect(stdout).toMatch(/^node v\d+\.\d+\.\d+; median of 1 processes\n/);
    for (const entry of Object.keys(BUNDLE.entries)) {
      const row = new RegExp(
        `^\\| ${entry} +\\| +(\\d+) \\| +(\\d+) \\| +(\\d+) \\| +(\\d+) \\|$`,
        'm',
      );
      const [, kib, gzip, load, mapped] = (row.exec(stdout) ?? []).map(Number);
      expect(kib, entry).toBeGreaterThan(100);
      expect(gzip, entry).toBeLessThan(kib as number);
      expect(load, entry).toBeGreaterThan(0);
      expect(mapped, entry).toBeGreaterThan(0);
    }
  });

  it('fails in one line naming the bundle that did not load', async () => {
    // Arrange
    const empty = mkdtempSync(join(tmpdir(), 'login-queue-no-bundles-'));
    try {
      // Act
      const failure = await bench(['--dist', empty, '--runs', '1']).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      // Assert
      expect(failure?.code).toBe(1);
      expect(failure?.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(
            `^bench:bundles failed: ${empty}/\\w[\\w-]*/index\\.js did not load: .*Cannot find module`,
          ),
        ),
      ]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
