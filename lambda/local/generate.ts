/**
 * A deterministic generator of realistic login event bodies for demos and benchmarks:
 * users who log in several times, ips shared by several users (NAT, offices), devices shared
 * in families, null locales, mixed app version shapes, some IPv6, and a few invalid bodies.
 */

export interface GenerateOptions {
  /** Seed of the pseudo-random sequence; the same seed gives the same bodies. */
  readonly seed?: number;
  /** Share of invalid bodies, 0..1. */
  readonly invalidRate?: number;
}

// mulberry32: tiny, fast, good enough for test data.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOCALES = ['RU', 'PH', 'ID', 'FR', 'US', 'BR', 'DE', 'IN', 'JP', 'NG', 'MX', 'PL'];

const INVALID = [
  () => '{"foo": "oops_wrong_msg_type", "bar": "123"}',
  () => 'not json at all',
  (body: Record<string, unknown>) => JSON.stringify({ ...body, ip: '300.1.2.3' }),
  (body: Record<string, unknown>) => JSON.stringify({ ...body, app_version: 'v2-beta' }),
  (body: Record<string, unknown>) => JSON.stringify({ ...body, user_id: null }),
];

/** `count` bodies; about `invalidRate` of them are invalid, each in one of five ways. */
export function generateBodies(count: number, options: GenerateOptions = {}): string[] {
  const next = random(options.seed ?? 1);
  const int = (n: number) => Math.floor(next() * n);
  const digits = (n: number) => Array.from({ length: n }, () => int(10)).join('');
  const hex = (n: number) => Array.from({ length: n }, () => int(16).toString(16)).join('');
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[int(4)]}${hex(3)}-${hex(12)}`;
  const ipv4 = () => `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
  const ipv6 = () => `2001:db8:${hex(4)}::${hex(4)}`;
  const version = () => {
    const shape = int(3);
    if (shape === 0) return `${int(10)}.${int(10)}.${int(10)}`;
    return shape === 1
      ? `${int(10)}.${int(100).toString().padStart(2, '0')}`
      : `${int(10)}.${int(10)}`;
  };

  const users = Array.from({ length: Math.max(1, Math.ceil(count * 0.7)) }, () => ({
    id: uuid(),
    device: `${digits(3)}-${digits(2)}-${digits(4)}`,
    type: next() < 0.55 ? 'android' : 'ios',
    locale: next() < 0.3 ? null : (LOCALES[int(LOCALES.length)] ?? null),
  }));
  const ips = Array.from({ length: Math.max(1, Math.ceil(count * 0.6)) }, () =>
    next() < 0.05 ? ipv6() : ipv4(),
  );
  const invalidRate = options.invalidRate ?? 0.02;

  return Array.from({ length: count }, () => {
    const user = users[int(users.length)] ?? users[0];
    const shared = users[int(users.length)] ?? users[0];
    const body = {
      user_id: user?.id,
      app_version: version(),
      device_type: user?.type,
      ip: ips[int(ips.length)],
      locale: user?.locale ?? null,
      // Mostly the user's own device; sometimes a device another user also uses.
      device_id: next() < 0.9 ? user?.device : shared?.device,
    };
    if (next() < invalidRate) return (INVALID[int(INVALID.length)] ?? INVALID[0])?.(body) ?? '';
    return JSON.stringify(body);
  });
}
