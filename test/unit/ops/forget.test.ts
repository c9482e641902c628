/**
 * Which dead letters are a user's: bodies are raw input (any text), so the rule must catch the
 * id wherever a body holds it, tell the user's own logins (deleted on request) from bodies that
 * merely hold it (counted only), and not match a different user's id that contains it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mentions } from '../../../lambda/ops/forget';
import { loginBody } from '../../helpers/sqs';

describe('mentions', () => {
  it.each([
    ['a valid body of the user', loginBody({ user_id: 'u-1' }), 'user'],
    ['the id with spaces around it, as the parser trims', loginBody({ user_id: ' u-1 ' }), 'user'],
    ['the id escaped in JSON', '{"user_id":"\\u0075-1"}', 'user'],
    ['an invalid body of the user', loginBody({ user_id: 'u-1', ip: 'nope' }), 'user'],
    // Elsewhere: it may be another user's record, so it is counted and never deleted.
    ['the id in a misnamed field', JSON.stringify({ userId: 'u-1', ip: '10.0.0.1' }), 'possible'],
    [
      'the id as another user’s device id',
      loginBody({ user_id: 'u-9', device_id: 'u-1' }),
      'possible',
    ],
    ['the id nested in an array', JSON.stringify({ users: [{ id: 'u-1' }] }), 'possible'],
    ['a body that is not JSON holding the id', '{"user_id": "u-1", "ip": 1.2.3.4', 'possible'],
    ['a numeric user_id', JSON.stringify({ user_id: 42 }), undefined],
    ['another user whose id contains it', loginBody({ user_id: 'u-10' }), undefined],
    ['a body that is not JSON holding a longer id', 'garbage user u-12 here', undefined],
    ['another user', loginBody({ user_id: 'u-2' }), undefined],
    ['a body that is not JSON without it', 'not json', undefined],
  ])('%s: %s', (_, body, expected) => {
    expect(mentions(body, 'u-1')).toBe(expected);
  });

  it('finds the id of every valid login body, whatever else it holds', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (userId, deviceId) => {
        fc.pre(userId.trim() !== '');
        expect(mentions(loginBody({ user_id: userId, device_id: deviceId }), userId.trim())).toBe(
          'user',
        );
      }),
    );
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        expect([undefined, 'user', 'possible']).toContain(mentions(body, 'u-1'));
      }),
    );
  });
});
