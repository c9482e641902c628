import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  batchMasker,
  canonicalDeviceId,
  canonicalIp,
  deriveMaskingKey,
  MASKED_FIELDS,
  mask,
} from '../../lambda/masking';

const key = deriveMaskingKey('k1', Buffer.alloc(32, 7));
const otherKey = deriveMaskingKey('k1', Buffer.alloc(32, 8));
const TOKEN = /^k1:[A-Za-z0-9_-]{43}$/;

describe('canonicalIp', () => {
  it.each([
    ['199.172.111.135', '199.172.111.135'],
    [' 10.0.0.1 ', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:199.172.111.135', '199.172.111.135'],
    ['::FFFF:c7ac:6f87', '199.172.111.135'],
  ])('canonicalises %j to %j', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it.each(['', '1.2.3', '256.1.1.1', '01.2.3.4', 'fe80::1%eth0', 'localhost', '1.2.3.4/24', '::g'])(
    'rejects %j',
    (input) => {
      expect(canonicalIp(input)).toBeUndefined();
    },
  );

  it('takes the IPv4 fast path only where the full parser agrees', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(canonicalIp(ip)).toBe(ipaddr.process(ip).toString());
      }),
    );
  });
});

describe('canonicalDeviceId', () => {
  it('trims and normalises to NFC', () => {
    expect(canonicalDeviceId('  e\u0301-1 ')).toBe('\u00e9-1');
  });

  it('rejects blank ids', () => {
    expect(canonicalDeviceId('  \t')).toBeUndefined();
  });
});

describe('mask', () => {
  const anyField = fc.constantFrom(...MASKED_FIELDS);
  const anyValue = fc.string({ minLength: 1, maxLength: 64 });

  it('yields <keyId>:<43 base64url chars> that never contains the raw value', () => {
    fc.assert(
      fc.property(anyField, fc.string({ minLength: 4, maxLength: 64 }), (field, value) => {
        const token = mask(key, field, value);
        expect(token).toMatch(TOKEN);
        expect(token.slice(3)).not.toContain(value);
      }),
    );
  });

  it('is deterministic for the same key and value', () => {
    fc.assert(
      fc.property(anyField, anyValue, (field, value) => {
        expect(mask(key, field, value)).toBe(
          mask(deriveMaskingKey('k1', Buffer.alloc(32, 7)), field, value),
        );
      }),
    );
  });

  it('separates domains: the same string as ip and as device id gives different tokens', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        expect(mask(key, 'ip', value)).not.toBe(mask(key, 'device_id', value));
      }),
    );
  });

  it('depends on the key', () => {
    fc.assert(
      fc.property(anyField, anyValue, (field, value) => {
        expect(mask(key, field, value)).not.toBe(mask(otherKey, field, value));
      }),
    );
  });

  it('distinguishes values (no collisions among distinct inputs)', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (a, b) => {
        fc.pre(a !== b);
        expect(mask(key, 'ip', a)).not.toBe(mask(key, 'ip', b));
      }),
    );
  });

  it('gives the same tokens through a batch masker, repeated values included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(anyField, fc.constantFrom('10.0.0.1', '10.0.0.2', 'dev-1'))),
        (pairs) => {
          const masked = batchMasker(key);
          for (const [field, value] of pairs)
            expect(masked(field, value)).toBe(mask(key, field, value));
        },
      ),
    );
  });

  // Computed independently (Python hmac/hashlib, HKDF per RFC 5869): the format is stable.
  it('matches an independently computed vector', () => {
    expect(mask(key, 'ip', '199.172.111.135')).toMatchInlineSnapshot(
      `"k1:Jnv7WwqJnIv9L0dwhXruH-RaAsrEeC6XCh5JSrjQ8Sk"`,
    );
  });
});
