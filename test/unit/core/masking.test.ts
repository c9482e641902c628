import { BlockList } from 'node:net';
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
  userIdToken,
} from '../../../lambda/core/masking';

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

  it.each([
    ['::10.0.0.1', '::a00:1'],
    ['::a00:1', '::a00:1'],
    ['0:0:0:0:0:0:10.0.0.1', '::a00:1'],
    ['::0.0.0.1', '::1'],
    ['::ffff:a00:1', '10.0.0.1'],
    ['0:0:0:0:0:FFFF:10.0.0.1', '10.0.0.1'],
    ['2001:db8::10.0.0.1', '2001:db8::a00:1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ])('gives every text form of one address one canonical form: %j is %j', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it('keeps an IPv4-compatible address (deprecated) an IPv6 address, apart from the IPv4', () => {
    expect(canonicalIp('::10.0.0.1')).not.toBe(canonicalIp('10.0.0.1'));
    expect(canonicalIp('::10.0.0.1')).toBe(canonicalIp('::a00:1'));
  });

  const groups = fc.array(
    fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })),
    { minLength: 8, maxLength: 8 },
  );
  /** Text forms of one address: full, leading zeros, upper case, shortest, embedded IPv4. */
  const forms = (g: readonly number[]) => {
    const hex = g.map((x) => x.toString(16));
    const high = g[6] ?? 0;
    const low = g[7] ?? 0;
    const quad = `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
    return [
      hex.join(':'),
      g.map((x) => x.toString(16).padStart(4, '0')).join(':'),
      hex.join(':').toUpperCase(),
      `${hex.slice(0, 6).join(':')}:${quad}`,
      hex
        .join(':')
        .replace(/(^|:)0(:0)+(:|$)/, '::')
        .replace(/:::/, '::'),
    ];
  };
  /** The address as Node's own parser (inet_pton) sees it. */
  const sameAddress = (a: string, b: string) => {
    const list = new BlockList();
    list.addAddress(a, 'ipv6');
    return list.check(b, 'ipv6');
  };

  it('maps every text form of an address to one canonical value, which denotes that address', () => {
    fc.assert(
      fc.property(groups, (g) => {
        const canonical = forms(g).map(canonicalIp);
        expect(new Set(canonical).size).toBe(1);
        expect(canonical[0]).toBeDefined();
        const [value = ''] = canonical;
        const asIpv6 = value.includes(':') ? value : `::ffff:${value}`;
        expect(sameAddress(forms(g)[0] ?? '', asIpv6)).toBe(true);
        expect(canonicalIp(value)).toBe(value);
      }),
    );
  });

  it('gives equal addresses one token and different canonical values different tokens', () => {
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        const [ca = '', cb = ''] = [canonicalIp(forms(a)[3] ?? ''), canonicalIp(forms(b)[0] ?? '')];
        const [ta, tb] = [mask(key, 'ip', ca), mask(key, 'ip', cb)];
        const equal = sameAddress(forms(a)[0] ?? '', forms(b)[0] ?? '');
        expect(ca === cb).toBe(equal);
        expect(ta === tb).toBe(equal);
      }),
    );
  });

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

describe('userIdToken', () => {
  const anyUserId = fc.string({ minLength: 4, maxLength: 128 });

  it('yields <keyId>:<43 base64url chars> that never contains the user id', () => {
    fc.assert(
      fc.property(anyUserId, (userId) => {
        const token = userIdToken(key, userId);
        expect(token).toMatch(TOKEN);
        expect(token.slice(3)).not.toContain(userId);
      }),
    );
  });

  it('is deterministic for the same key, depends on the key, and is apart from the ip and device id tokens', () => {
    fc.assert(
      fc.property(anyUserId, (userId) => {
        expect(userIdToken(key, userId)).toBe(
          userIdToken(deriveMaskingKey('k1', Buffer.alloc(32, 7)), userId),
        );
        expect(userIdToken(key, userId)).not.toBe(userIdToken(otherKey, userId));
        for (const field of MASKED_FIELDS)
          expect(userIdToken(key, userId)).not.toBe(mask(key, field, userId));
      }),
    );
  });

  // Computed independently (Python hmac/hashlib, HKDF per RFC 5869, info "login-queue/v1/user_id").
  it('matches an independently computed vector', () => {
    expect(userIdToken(key, '424cdd21-063a-43a7-b91b-7ca1a833afae')).toBe(
      'k1:g0b0ROx51DXcjP0CvipqCx9lYbgp9g-AZyfnBznawfE',
    );
  });
});
