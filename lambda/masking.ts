/**
 * Keyed, deterministic tokens for PII (pure: no I/O, no AWS, no pg).
 *
 * token = "<keyId>:" + base64url(HMAC-SHA256(K_field, canonical(value)))
 * K_field = HKDF-SHA256(ikm = key material, salt = "", info = "login-queue/v1/<field>", 32 bytes)
 *
 * One subkey per field separates the domains: the same string as an ip and as a device id
 * gives two unrelated tokens. Without the key nobody can test guesses (unlike a plain hash
 * of the 2^32 IPv4 space); with the same key the same value always gives the same token.
 */
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export const MASKED_FIELDS = ['ip', 'device_id'] as const;
export type MaskedField = (typeof MASKED_FIELDS)[number];

/** One masking key, expanded into a subkey per field. Holds key material: never log it. */
export interface MaskingKey {
  readonly id: string;
  readonly subkeys: Readonly<Record<MaskedField, KeyObject>>;
  /** Signs redrive markers (redrive-marker.ts): its own HKDF info, so no new secret. */
  readonly markerKey: KeyObject;
}

/** Derives the per-field subkeys of one key. Cheap enough per key, too slow per record. */
export function deriveMaskingKey(id: string, material: Buffer): MaskingKey {
  const subkey = (purpose: string) =>
    createSecretKey(
      Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), `login-queue/v1/${purpose}`, 32)),
    );
  return {
    id,
    subkeys: { ip: subkey('ip'), device_id: subkey('device_id') },
    markerKey: subkey('redrive-marker'),
  };
}

/** The token of an already canonical value. */
export function mask(key: MaskingKey, field: MaskedField, canonical: string): string {
  return `${key.id}:${createHmac('sha256', key.subkeys[field]).update(canonical).digest('base64url')}`;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const ASCII = /^[\x20-\x7e]*$/;

/**
 * `mask` for one batch: values repeated within the batch (a shared ip, a device logging in
 * twice) are computed once. The memo lives as long as the batch, which holds the values anyway.
 */
export function batchMasker(key: MaskingKey): (field: MaskedField, canonical: string) => string {
  const memo: Record<MaskedField, Map<string, string>> = { ip: new Map(), device_id: new Map() };
  return (field, canonical) => {
    let token = memo[field].get(canonical);
    if (token === undefined) {
      token = mask(key, field, canonical);
      memo[field].set(canonical, token);
    }
    return token;
  };
}

/**
 * Canonical text of an IP address, or undefined if it is not one.
 * IPv4 stays dotted-decimal (no leading zeros accepted); IPv6 becomes RFC 5952 text
 * (lower case, shortest "::" form); IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes the IPv4.
 * Zone ids (fe80::1%eth0) are rejected: they are local to one host.
 */
export function canonicalIp(value: string): string | undefined {
  const trimmed = value.trim();
  // Fast path: dotted-decimal IPv4 without leading zeros is already canonical.
  if (IPV4.test(trimmed)) return trimmed;
  if (isIP(trimmed) === 0 || trimmed.includes('%')) return undefined;
  return ipaddr.process(trimmed).toString();
}

/** Canonical device id: trimmed, Unicode NFC. Undefined when nothing is left. */
export function canonicalDeviceId(value: string): string | undefined {
  const trimmed = value.trim();
  // Printable ASCII is already NFC; skip ICU for the common case.
  const canonical = ASCII.test(trimmed) ? trimmed : trimmed.normalize('NFC');
  return canonical.length > 0 ? canonical : undefined;
}
