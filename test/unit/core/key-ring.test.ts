import { describe, expect, it } from 'vitest';
import { KeyRingError } from '../../../lambda/core/errors';
import { parseKeyRing } from '../../../lambda/core/key-ring';

const material = 'x'.repeat(43);

describe('parseKeyRing', () => {
  it('reads the current key and every other key of the ring', () => {
    const ring = parseKeyRing(JSON.stringify({ current: 'k2', k1: material, k2: `${material}y` }));
    expect(ring.current.id).toBe('k2');
    expect([...ring.keys.keys()]).toEqual(['k1', 'k2']);
  });

  it.each([
    ['not json', 'not JSON'],
    ['[]', 'JSON object'],
    [JSON.stringify({ k1: material }), 'needs "current"'],
    [JSON.stringify({ current: 'k2', k1: material }), 'not in the ring'],
    [JSON.stringify({ current: 'k1', k1: 'short' }), '>= 43'],
    [JSON.stringify({ current: 'k 1', 'k 1': material }), 'must match'],
  ])('rejects %s with a KeyRingError', (secret, message) => {
    expect(() => parseKeyRing(secret)).toThrow(KeyRingError);
    expect(() => parseKeyRing(secret)).toThrow(message);
  });

  it('never puts key material in an error message', () => {
    const secret = 'secret-material-that-is-too-short';
    try {
      parseKeyRing(JSON.stringify({ current: 'k1', k1: secret }));
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });
});
