/**
 * Which dead letters mention a user: bodies are raw input (any text), so the rule must catch
 * the id wherever a body holds it, and not a different user's id that merely contains it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mentions } from '../../lambda/ops/forget';
import { loginBody } from '../helpers/sqs';

describe('mentions', () => {
  it.each([
    ['a valid body of the user', loginBody({ user_id: 'u-1' }), true],
    ['the id with spaces around it, as the parser trims', loginBody({ user_id: ' u-1 ' }), true],
    ['the id in a misnamed field', JSON.stringify({ userId: 'u-1', ip: '10.0.0.1' }), true],
    ['the id escaped in JSON', '{"user_id":"\\u0075-1"}', true],
    ['the id nested in an array', JSON.stringify({ users: [{ id: 'u-1' }] }), true],
    ['a numeric id', JSON.stringify({ user_id: 42 }), false],
    ['another user whose id contains it', loginBody({ user_id: 'u-10' }), false],
    ['another user', loginBody({ user_id: 'u-2' }), false],
    ['a body that is not JSON holding the id', '{"user_id": "u-1", "ip": 1.2.3.4', true],
    ['a body that is not JSON without it', 'not json', false],
  ])('%s: %s', (_, body, expected) => {
    expect(mentions(body, 'u-1')).toBe(expected);
  });

  it('finds the id of every valid login body, whatever else it holds', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (userId, deviceId) => {
        fc.pre(userId.trim() !== '');
        expect(mentions(loginBody({ user_id: userId, device_id: deviceId }), userId.trim())).toBe(
          true,
        );
      }),
    );
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        expect(typeof mentions(body, 'u-1')).toBe('boolean');
      }),
    );
  });
});
