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

export const MASKED_FIELDS = ['ip', 'device_id'] as const;
export type MaskedField = (typeof MASKED_FIELDS)[number];

/** One masking key, expanded into a subkey per field. Holds key material: never log it. */
export interface MaskingKey {
  readonly id: string;
  readonly subkeys: Readonly<Record<MaskedField, KeyObject>>;
  /** Signs redrive markers (redrive-marker.ts): its own HKDF info, so no new secret. */
  readonly markerKey: KeyObject;
  /** Tokens of user ids in the erasure audit (ops/forget.ts): the user's id never in clear there. */
  readonly userIdKey: KeyObject;
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
    userIdKey: subkey('user_id'),
  };
}

/** The token of an already canonical value. */
export function mask(key: MaskingKey, field: MaskedField, canonical: string): string {
  return `${key.id}:${createHmac('sha256', key.subkeys[field]).update(canonical).digest('base64url')}`;
}

/**
 * The token of a user id, as user_logins stores it (trimmed by the parser): the same shape as
 * `mask`, under its own subkey (HKDF info "login-queue/v1/user_id").
 */
export function userIdToken(key: MaskingKey, userId: string): string {
  return `${key.id}:${createHmac('sha256', key.userIdKey).update(userId).digest('base64url')}`;
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

/** The eight 16-bit groups of an IPv6 address Node's parser accepted (no zone id). */
function ipv6Groups(text: string): number[] {
  let head = text;
  let tail: number[] = [];
  // A trailing dotted quad (::a.b.c.d, ::ffff:a.b.c.d, 64:ff9b::a.b.c.d) is the last 32 bits.
  const dot = text.lastIndexOf(':');
  if (text.includes('.', dot)) {
    const octets = text
      .slice(dot + 1)
      .split('.')
      .map(Number);
    tail = [((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)];
    head = text.slice(0, dot + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const hex = (part: string) =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const gap = head.indexOf('::');
  const left = hex(gap < 0 ? head : head.slice(0, gap));
  const right = [...(gap < 0 ? [] : hex(head.slice(gap + 2))), ...tail];
  const zeros = Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run of 2+ zero groups as "::". */
function rfc5952(groups: readonly number[]): string {
  let best = { at: -1, length: 1 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  const text = (part: readonly number[]) => part.map((g) => g.toString(16)).join(':');
  if (best.at < 0) return text(groups);
  return `${text(groups.slice(0, best.at))}::${text(groups.slice(best.at + best.length))}`;
}

/**
 * Canonical text of an IP address, or undefined if it is not one. Every text form of one
 * address gives one canonical form:
 * - IPv4 stays dotted-decimal (no leading zeros accepted);
 * - IPv4-mapped IPv6 (::ffff:a.b.c.d, or in hex ::ffff:a00:1) becomes the IPv4;
 * - any other IPv6 becomes its RFC 5952 text, including the deprecated IPv4-compatible form
 *   (RFC 4291 2.5.5.1): ::10.0.0.1 and ::a00:1 are one IPv6 address, "::a00:1", not the IPv4.
 * Zone ids (fe80::1%eth0) are rejected: they are local to one host.
 */
export function canonicalIp(value: string): string | undefined {
  const trimmed = value.trim();
  // Fast path: dotted-decimal IPv4 without leading zeros is already canonical.
  if (IPV4.test(trimmed)) return trimmed;
  if (isIP(trimmed) !== 6 || trimmed.includes('%')) return undefined;
  const groups = ipv6Groups(trimmed);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (!mapped) return rfc5952(groups);
  const [high = 0, low = 0] = groups.slice(6);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** Canonical device id: trimmed, Unicode NFC. Undefined when nothing is left. */
export function canonicalDeviceId(value: string): string | undefined {
  const trimmed = value.trim();
  // Printable ASCII is already NFC; skip ICU for the common case.
  const canonical = ASCII.test(trimmed) ? trimmed : trimmed.normalize('NFC');
  return canonical.length > 0 ? canonical : undefined;
}
