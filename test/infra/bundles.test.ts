/**
 * What the functions ship: the assets CDK bundled are the bundles `npm run build` makes (which
 * the integration tests run), built from the ES module builds of the SDK and Powertools, and
 * SecretInit's carries no PostgreSQL client.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildBundles } from '../../lambda/cli/build';
import { BUNDLE, bundlePath, metafilePath } from '../../lambda/contract/bundling';

type Entry = keyof typeof BUNDLE.entries;
const ENTRIES = Object.keys(BUNDLE.entries) as Entry[];

let dist: string;
beforeAll(async () => {
  // Its own directory: the integration tests may be loading dist/ meanwhile.
  dist = mkdtempSync(join(tmpdir(), 'login-queue-bundles-'));
  await buildBundles(dist);
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

const inputs = (entry: Entry): string[] =>
  Object.keys((JSON.parse(readFileSync(metafilePath(entry, dist), 'utf8')) as Metafile).inputs);
const packageOf = (input: string): string | undefined => {
  const path = input.split('node_modules/').at(-1) ?? '';
  if (!input.includes('node_modules/')) return undefined;
  return path
    .split('/')
    .slice(0, path.startsWith('@') ? 2 : 1)
    .join('/');
};

describe('the Lambda bundles', () => {
  it.each(['aws', 'localstack'] as const)(
    "the %s stack's function assets are, byte for byte, the bundles npm run build makes",
    (variant) => {
      // Arrange: the index.js of every asset the synthesis bundled.
      const dir = join(inject('synthDir'), variant);
      const assets = readdirSync(dir)
        .filter((name) => name.startsWith('asset.'))
        .flatMap((name) => {
          try {
            return [readFileSync(join(dir, name, 'index.js'), 'utf8')];
          } catch {
            return [];
          }
        });
      // Assert
      for (const entry of ENTRIES) {
        const built = readFileSync(bundlePath(entry, dist), 'utf8');
        expect(assets.includes(built), `${entry} ships as built`).toBe(true);
      }
    },
  );

  it.each(ENTRIES)(
    '%s takes the AWS SDK, Smithy and Powertools from their ES module builds',
    (entry) => {
      const sdk = inputs(entry).filter((input) =>
        /^(@aws-sdk|@smithy|@aws-lambda-powertools)\//.test(packageOf(input) ?? ''),
      );
      expect(sdk.length).toBeGreaterThan(50);
      expect(sdk.filter((input) => /\/(dist-cjs|lib\/cjs)\//.test(input))).toEqual([]);
    },
  );

  it("SecretInit's bundle holds no PostgreSQL client, only what it calls", () => {
    const packages = new Set(inputs('secret-init').map(packageOf));
    expect(packages).toContain('@aws-sdk/client-secrets-manager');
    expect([...packages].filter((name) => /^(pg|pg-.*|postgres-.*)$/.test(name ?? ''))).toEqual([]);
  });
});
