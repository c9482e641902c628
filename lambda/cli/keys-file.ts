/**
 * A local keys file: the masking key ring, the recovery key ring and the recovery public key
 * in one JSON file readable by its owner only (mode 600). `npm start` writes one when it
 * generates keys for a database that outlives the run, and reuses it on later runs, so
 * tokens stay comparable and unmask and rekey can read the same keys. In AWS the keys live
 * in Secrets Manager instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { KeyRingError } from '../core/errors';
import { parseKeyRing } from '../core/key-ring';
import {
  generateRecoveryKeyPair,
  parseRecoveryPublicKey,
  parseRecoveryRing,
} from '../core/recovery';

/** Where the local commands keep keys for a database that outlives them, unless told otherwise. */
export const DEFAULT_KEYS_FILE = 'login-queue-keys.json';

export interface LocalKeys {
  /** The masking key ring's JSON (the masking secret's format). */
  readonly maskingSecret: string;
  /** The recovery private key ring's JSON (the recovery secret's format). */
  readonly recoverySecret: string;
  /** RECOVERY_PUBLIC_KEY for the function. */
  readonly recoveryPublicKey: string;
}

/** A key id no earlier generated file has: the UTC time to the second and 4 random hex digits. */
export function freshKeyId(prefix: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `${prefix}${stamp}-${randomBytes(2).toString('hex')}`;
}

/** New keys: a masking ring and a recovery key pair, each under a fresh key id. */
export function generateLocalKeys(): LocalKeys {
  const maskingId = freshKeyId('k');
  const recovery = generateRecoveryKeyPair(freshKeyId('r'));
  return {
    maskingSecret: JSON.stringify({
      current: maskingId,
      [maskingId]: randomBytes(32).toString('base64'),
    }),
    recoverySecret: recovery.secret,
    recoveryPublicKey: recovery.publicKey,
  };
}

/** Writes keys to a new file, mode 600; throws if the file exists (keys are never overwritten). */
export function writeKeysFile(path: string, keys: LocalKeys): void {
  const body = {
    masking: JSON.parse(keys.maskingSecret),
    recovery: JSON.parse(keys.recoverySecret),
    recoveryPublicKey: keys.recoveryPublicKey,
  };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * Reads and validates a keys file. Throws KeyRingError naming the file and the problem
 * (never key material), e.g. when others may read it.
 */
export function readKeysFile(path: string): LocalKeys {
  const stats = statSync(path);
  if (!stats.isFile()) throw new KeyRingError(`${path} is not a keys file (a directory?)`);
  if ((stats.mode & 0o077) !== 0) {
    throw new KeyRingError(`${path} is readable by others: chmod 600 ${path}`);
  }
  let parsed: { masking?: unknown; recovery?: unknown; recoveryPublicKey?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new KeyRingError(`${path} is not JSON`);
  }
  const keys = {
    maskingSecret: JSON.stringify(parsed.masking ?? null),
    recoverySecret: JSON.stringify(parsed.recovery ?? null),
    recoveryPublicKey: String(parsed.recoveryPublicKey ?? ''),
  };
  try {
    parseKeyRing(keys.maskingSecret);
    parseRecoveryRing(keys.recoverySecret);
    parseRecoveryPublicKey(keys.recoveryPublicKey);
  } catch (error) {
    throw new KeyRingError(`${path}: ${(error as Error).message}`, { cause: error });
  }
  return keys;
}

/** The keys in `path`, or new keys written there (mode 600) when it does not exist yet. */
export function loadOrCreateKeysFile(path: string): { keys: LocalKeys; created: boolean } {
  if (existsSync(path)) return { keys: readKeysFile(path), created: false };
  const keys = generateLocalKeys();
  writeKeysFile(path, keys);
  return { keys, created: true };
}
