/**
 * The masking secret's format (a JSON SecretString), designed for rotation:
 *
 *   { "current": "k1", "k1": "<key material>", "k0": "<older key material>" }
 *
 * `current` names the key new rows are masked with; every other field is a key id
 * ([A-Za-z0-9_-]{1,32}) mapped to at least 43 characters of random key material (e.g. 32
 * random bytes in base64: `openssl rand -base64 32`, or Secrets Manager's generator). Flat on
 * purpose: Secrets Manager's `GenerateSecretString` can create it at deploy time.
 */
import { KeyRingError } from './errors';
import { deriveMaskingKey, type MaskingKey } from './masking';

export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
export const MIN_KEY_CHARS = 43;

export interface KeyRing {
  readonly current: MaskingKey;
  readonly keys: ReadonlyMap<string, MaskingKey>;
}

/** Parses and derives a key ring. Throws KeyRingError, whose message never holds key material. */
export function parseKeyRing(secretString: string): KeyRing {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new KeyRingError('masking secret is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KeyRingError('masking secret must be a JSON object');
  }
  const { current, ...entries } = parsed as Record<string, unknown>;
  const keys = new Map<string, MaskingKey>();
  for (const [id, material] of Object.entries(entries)) {
    if (!KEY_ID.test(id)) throw new KeyRingError(`masking key id "${id}" must match ${KEY_ID}`);
    if (typeof material !== 'string' || material.length < MIN_KEY_CHARS) {
      throw new KeyRingError(`masking key "${id}" must be a string of >= ${MIN_KEY_CHARS} chars`);
    }
    keys.set(id, deriveMaskingKey(id, Buffer.from(material, 'utf8')));
  }
  if (typeof current !== 'string') throw new KeyRingError('masking secret needs "current"');
  const currentKey = keys.get(current);
  if (currentKey === undefined) {
    throw new KeyRingError(`masking secret's current key "${current}" is not in the ring`);
  }
  return { current: currentKey, keys };
}
