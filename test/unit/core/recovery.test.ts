import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRingError } from '../../../lambda/core/errors';
import {
  createSealer,
  generateRecoveryKeyPair,
  parseRecoveryPublicKey,
  parseRecoveryRing,
  RecoveryError,
  unseal,
} from '../../../lambda/core/recovery';

const pair = generateRecoveryKeyPair('r1');
const publicKey = parseRecoveryPublicKey(pair.publicKey);
const privateKey = parseRecoveryRing(pair.secret).get('r1');
if (privateKey === undefined) throw new Error('test key missing');

describe('recovery sealing', () => {
  it('opens what it sealed, with the private key only', () => {
    const sealed = createSealer(publicKey).seal('m-1', '2001:db8::7', '593-47-5928');
    expect(unseal(sealed, 'm-1', privateKey)).toEqual({
      ip: '2001:db8::7',
      deviceId: '593-47-5928',
    });
  });

  it('never holds the raw values in the sealed bytes', () => {
    const sealer = createSealer(publicKey);
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.string({ minLength: 4, maxLength: 40 }).filter((s) => !s.includes('\u0000')),
        (ip, device) => {
          const sealed = sealer.seal('m', ip, device);
          expect(sealed.includes(Buffer.from(ip))).toBe(false);
          expect(unseal(sealed, 'm', privateKey)).toEqual({ ip, deviceId: device });
        },
      ),
    );
  });

  it('fails with a clear error under another key', () => {
    const other = parseRecoveryRing(generateRecoveryKeyPair('r1').secret).get('r1');
    const sealed = createSealer(publicKey).seal('m-1', '10.0.0.1', 'd');
    expect(() => unseal(sealed, 'm-1', other as never)).toThrow(RecoveryError);
    expect(() => unseal(sealed, 'm-1', other as never)).toThrow(
      'the recovery key does not open this value',
    );
  });

  it('refuses a value moved to another row or altered', () => {
    const sealed = createSealer(publicKey).seal('m-1', '10.0.0.1', 'd');
    expect(() => unseal(sealed, 'm-2', privateKey)).toThrow(RecoveryError);
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    expect(() => unseal(altered, 'm-1', privateKey)).toThrow(RecoveryError);
  });

  it('uses a fresh ephemeral key per batch', () => {
    const a = createSealer(publicKey).seal('m', '10.0.0.1', 'd');
    const b = createSealer(publicKey).seal('m', '10.0.0.1', 'd');
    expect(a.subarray(1, 33).equals(b.subarray(1, 33))).toBe(false);
  });

  it.each(['r1', 'r1:short', ':AAAA', `bad id:${'A'.repeat(43)}`])(
    'rejects the public key %j',
    (value) => {
      expect(() => parseRecoveryPublicKey(value)).toThrow(KeyRingError);
    },
  );

  it('rejects a ring entry that is not a private key, without echoing it', () => {
    expect(() => parseRecoveryRing('{"current":"r1","r1":"not-a-key"}')).toThrow(
      'recovery key "r1" is not a base64 PKCS#8',
    );
  });
});
