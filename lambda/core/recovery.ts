/**
 * Sealing PII for controlled recovery (pure: node:crypto only).
 *
 * The function holds only a recovery PUBLIC key (X25519), so it can seal but never open:
 * opening needs the private key, kept in its own secret that the function cannot read.
 * Per batch: an ephemeral X25519 key pair; K = HKDF-SHA256(ECDH(ephemeral, recipient),
 * salt = ephemeralPub || recipientPub, info = "login-queue/v1/recovery"). Per row: AES-256-GCM
 * under K with a per-batch counter as the 96-bit nonce (K is fresh per batch, so nonces never
 * repeat under one key), plaintext ip \0 device_id, and the row's message id as
 * associated data (a sealed value cannot be moved to another row).
 *
 * Sealed layout: 0x01 | ephemeralPub (32) | nonce (12) | tag (16) | ciphertext.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { KeyRingError, LoginQueueError } from './errors';
import { KEY_ID } from './key-ring';

const VERSION = 1;
const INFO = 'login-queue/v1/recovery';
const HEADER = 1 + 32 + 12 + 16;

/** The recovery key could not open a sealed value (wrong key, or tampered data). */
export class RecoveryError extends LoginQueueError {
  override readonly name = 'RecoveryError';
}

export interface RecoveryPublicKey {
  readonly id: string;
  readonly key: KeyObject;
  readonly raw: Buffer;
}

const rawPublic = (key: KeyObject) =>
  Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url');

/** Parses "<keyId>:<base64url X25519 public key>" (RECOVERY_PUBLIC_KEY). Throws KeyRingError. */
export function parseRecoveryPublicKey(value: string): RecoveryPublicKey {
  const [id = '', x = ''] = value.trim().split(':');
  if (!KEY_ID.test(id) || Buffer.from(x, 'base64url').length !== 32) {
    throw new KeyRingError(
      'RECOVERY_PUBLIC_KEY must be "<keyId>:<base64url of a 32-byte X25519 public key>"',
    );
  }
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
  return { id, key, raw: rawPublic(key) };
}

/** Parses the recovery secret {"current": "r1", "r1": "<base64 PKCS#8 X25519 private key>"}. */
export function parseRecoveryRing(secretString: string): ReadonlyMap<string, KeyObject> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new KeyRingError('recovery secret is not JSON');
  }
  const { current: _, ...entries } = (parsed ?? {}) as Record<string, unknown>;
  const ring = new Map<string, KeyObject>();
  for (const [id, value] of Object.entries(entries)) {
    try {
      ring.set(
        id,
        createPrivateKey({
          key: Buffer.from(String(value), 'base64'),
          format: 'der',
          type: 'pkcs8',
        }),
      );
    } catch {
      throw new KeyRingError(`recovery key "${id}" is not a base64 PKCS#8 X25519 private key`);
    }
  }
  return ring;
}

/** A new key pair: the secret (ring JSON) for Secrets Manager and the public key for the function. */
export function generateRecoveryKeyPair(id: string): { secret: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  return {
    secret: JSON.stringify({ current: id, [id]: der }),
    publicKey: `${id}:${rawPublic(publicKey).toString('base64url')}`,
  };
}

function batchKey(shared: Buffer, ephemeralPub: Buffer, recipientPub: Buffer): Buffer {
  return Buffer.from(
    hkdfSync('sha256', shared, Buffer.concat([ephemeralPub, recipientPub]), INFO, 32),
  );
}

const aad = (messageId: string) => Buffer.from(`login-queue/v1|${messageId}`);

export interface Sealer {
  readonly keyId: string;
  seal(messageId: string, ip: string, deviceId: string): Buffer;
}

/** A sealer for one batch (one ephemeral key pair, one derived key). */
export function createSealer(recipient: RecoveryPublicKey): Sealer {
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPub = rawPublic(ephemeral.publicKey);
  const key = batchKey(
    diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient.key }),
    ephemeralPub,
    recipient.raw,
  );
  let counter = 0;
  return {
    keyId: recipient.id,
    seal(messageId, ip, deviceId) {
      const plain = Buffer.from(`${ip}\u0000${deviceId}`, 'utf8');
      const out = Buffer.allocUnsafe(HEADER + plain.length);
      out[0] = VERSION;
      ephemeralPub.copy(out, 1);
      out.writeUInt32BE(0, 33);
      out.writeBigUInt64BE(BigInt(++counter), 37);
      const cipher = createCipheriv('aes-256-gcm', key, out.subarray(33, 45));
      cipher.setAAD(aad(messageId));
      cipher.update(plain).copy(out, HEADER);
      cipher.final();
      cipher.getAuthTag().copy(out, 45);
      return out;
    },
  };
}

/** Opens a sealed value. Throws RecoveryError when the key does not fit or the data was altered. */
export function unseal(
  sealed: Buffer,
  messageId: string,
  privateKey: KeyObject,
): { ip: string; deviceId: string } {
  if (sealed.length <= HEADER || sealed[0] !== VERSION)
    throw new RecoveryError('sealed value has an unknown format');
  const ephemeralPub = sealed.subarray(1, 33);
  const nonce = sealed.subarray(33, 45);
  const tag = sealed.subarray(45, 61);
  const recipientPub = rawPublic(createPublicKey(privateKey));
  const ephemeral = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: ephemeralPub.toString('base64url') },
    format: 'jwk',
  });
  const key = batchKey(
    diffieHellman({ privateKey, publicKey: ephemeral }),
    ephemeralPub,
    recipientPub,
  );
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad(messageId));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([decipher.update(sealed.subarray(61)), decipher.final()]).toString(
      'utf8',
    );
    const separator = plain.indexOf('\u0000');
    return { ip: plain.slice(0, separator), deviceId: plain.slice(separator + 1) };
  } catch {
    throw new RecoveryError(
      'the recovery key does not open this value (wrong key, or the data was altered)',
    );
  }
}
