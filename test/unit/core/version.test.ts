import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeVersion, encodeVersion } from '../../../lambda/core/version';

describe('encodeVersion', () => {
  it.each([
    ['2.3.0', 2_003_000],
    ['2.10.0', 2_010_000],
    ['21.0.0', 21_000_000],
    ['0.60', 60_000],
    ['0.6', 6_000],
    ['9.10', 9_010_000],
    ['2.0', 2_000_000],
    ['2.00', 2_000_000],
    ['7', 7_000_000],
    ['2146.999.999', 2_146_999_999],
  ])('encodes %s as %i', (version, encoded) => {
    expect(encodeVersion(version)).toBe(encoded);
  });

  it.each(['', '2.3.0.1', '1.1000', '2147.0.0', 'v2.3', '2.3-beta', ' 2.3', '2..3', '-1.0', '1e3'])(
    'rejects %j',
    (version) => {
      expect(encodeVersion(version)).toBeUndefined();
    },
  );

  const part = (max: number) => fc.integer({ min: 0, max });
  const triple = fc.tuple(part(2146), part(999), part(999));

  it('preserves version order and never collides', () => {
    fc.assert(
      fc.property(triple, triple, (a, b) => {
        const [ea, eb] = [encodeVersion(a.join('.')), encodeVersion(b.join('.'))];
        const cmp = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
        expect(Math.sign((ea as number) - (eb as number))).toBe(Math.sign(cmp));
      }),
    );
  });

  it('round-trips through decodeVersion', () => {
    fc.assert(
      fc.property(triple, (t) => {
        expect(decodeVersion(encodeVersion(t.join('.')) as number)).toBe(t.join('.'));
      }),
    );
  });
});
