/**
 * Local keys files: written mode 600 and never overwritten, read back only when private and
 * valid, with errors that name the file and never hold key material.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freshKeyId,
  generateLocalKeys,
  loadOrCreateKeysFile,
  readKeysFile,
  writeKeysFile,
} from '../../../lambda/cli/keys-file';
import { KeyRingError } from '../../../lambda/core/errors';
import { parseKeyRing } from '../../../lambda/core/key-ring';

const dir = mkdtempSync(join(tmpdir(), 'login-queue-keys-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const path = () => join(dir, `keys-${files++}.json`);

describe('keys files', () => {
  it('are created mode 600 with a usable ring, then read back unchanged', () => {
    // Arrange
    const file = path();
    // Act
    const created = loadOrCreateKeysFile(file);
    const again = loadOrCreateKeysFile(file);
    // Assert
    expect(created.created).toBe(true);
    expect(again).toEqual({ keys: created.keys, created: false });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseKeyRing(again.keys.maskingSecret).current.id).toMatch(/^k\d{8}T\d{6}-/);
  });

  it('are never overwritten', () => {
    const file = path();
    writeKeysFile(file, generateLocalKeys());
    const before = readFileSync(file, 'utf8');
    expect(() => writeKeysFile(file, generateLocalKeys())).toThrow(/EEXIST/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('are refused when others may read them', () => {
    const file = path();
    writeKeysFile(file, generateLocalKeys());
    chmodSync(file, 0o644);
    expect(() => readKeysFile(file)).toThrow(
      new KeyRingError(`${file} is readable by others: chmod 600 ${file}`),
    );
  });

  it('are refused when the path is a directory, without advice to chmod it', () => {
    expect(() => loadOrCreateKeysFile(dir)).toThrow(
      new KeyRingError(`${dir} is not a keys file (a directory?)`),
    );
  });

  it('are refused when not JSON or not a valid ring, without echoing the content', () => {
    const notJson = path();
    writeFileSync(notJson, 'secret-material', { mode: 0o600 });
    expect(() => readKeysFile(notJson)).toThrow(`${notJson} is not JSON`);
    const shortKey = path();
    const keys = generateLocalKeys();
    writeFileSync(
      shortKey,
      JSON.stringify({
        masking: { current: 'k1', k1: 'too-short-secret' },
        recovery: JSON.parse(keys.recoverySecret),
        recoveryPublicKey: keys.recoveryPublicKey,
      }),
      { mode: 0o600 },
    );
    let error: Error | undefined;
    try {
      readKeysFile(shortKey);
    } catch (caught) {
      error = caught as Error;
    }
    expect(error).toBeInstanceOf(KeyRingError);
    expect(error?.message).toContain(shortKey);
    expect(error?.message).not.toContain('too-short-secret');
  });

  it('get key ids that differ from one file to the next', () => {
    const at = new Date(Date.UTC(2026, 10, 23, 19, 0, 0));
    expect(freshKeyId('k', at)).toMatch(/^k20261123T190000-[0-9a-f]{4}$/);
    const ids = new Set(Array.from({ length: 20 }, () => freshKeyId('k', at)));
    expect(ids.size).toBeGreaterThan(1);
  });
});
