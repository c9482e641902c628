/**
 * What the operations function accepts: an envelope of the operation's JSON text and a caller
 * proof (read without trusting anything else in the event), and requests parsed into typed
 * commands or refused with a RequestError; never an untyped throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError } from '../../../lambda/core/errors';
import {
  envelopeOf,
  forgetInputProblem,
  parseRequest,
  requestTextOf,
} from '../../../lambda/ops/requests';

const post = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

describe('envelopeOf and requestTextOf', () => {
  it('reads the operation text and the proof from the body, base64 bodies too', () => {
    const body = JSON.stringify({ request: '{"command":"redrive"}', proof: { a: 'b' } });
    expect(envelopeOf({ body })).toEqual({ request: '{"command":"redrive"}', proof: { a: 'b' } });
    const encoded = Buffer.from(body).toString('base64');
    expect(requestTextOf(envelopeOf({ body: encoded, isBase64Encoded: true }))).toBe(
      '{"command":"redrive"}',
    );
  });

  it.each([
    ['no body', {}],
    ['a body that is not JSON', { body: 'not json' }],
    ['a JSON body that is not an object', { body: '"text"' }],
    ['null', { body: 'null' }],
  ])('gives an empty envelope (so no proof) for %s', (_, event) => {
    expect(envelopeOf(event)).toEqual({});
  });

  it('refuses an envelope whose request is not JSON text with a RequestError', () => {
    expect(() => requestTextOf({ request: { command: 'redrive' } })).toThrow(RequestError);
    expect(() => requestTextOf({})).toThrow(/"request" is required/);
  });
});

describe('parseRequest', () => {
  it('parses each command, base64 bodies too', () => {
    expect(parseRequest(post({ command: 'unmask', token: 't', reason: 'r' }))).toEqual({
      command: 'unmask',
      token: 't',
      reason: 'r',
    });
    expect(parseRequest(post({ command: 'rekey' }))).toEqual({
      command: 'rekey',
      batchSize: 1000,
      dryRun: false,
    });
    expect(parseRequest(post({ command: 'dlq-peek' }))).toEqual({ command: 'dlq-peek' });
    expect(parseRequest(post({ command: 'redrive' }), 'POST')).toEqual({
      command: 'redrive',
      dryRun: false,
    });
    expect(parseRequest(post({ command: 'forget', userId: 'u-1', reason: 'r' }))).toEqual({
      command: 'forget',
      userId: 'u-1',
      reason: 'r',
      deleteDeadLetters: false,
      dryRun: false,
    });
    expect(
      parseRequest(
        post({ command: 'forget', userId: 'u-1', reason: 'r', deleteDeadLetters: true }),
      ),
    ).toMatchObject({ deleteDeadLetters: true });
  });

  it('takes dryRun on rekey, redrive and forget', () => {
    expect(parseRequest(post({ command: 'rekey', dryRun: true }))).toMatchObject({ dryRun: true });
    expect(parseRequest(post({ command: 'redrive', dryRun: true }))).toMatchObject({
      dryRun: true,
    });
    expect(
      parseRequest(post({ command: 'forget', userId: 'u-1', reason: 'r', dryRun: true })),
    ).toMatchObject({ dryRun: true });
  });

  it('refuses a method other than POST', () => {
    expect(() => parseRequest(post({ command: 'redrive' }), 'GET')).toThrow(/use POST/);
  });

  it.each([
    ['a dryRun not a boolean', post({ command: 'redrive', dryRun: 'yes' }), /"dryRun"/],
    ['an empty text', '', /not JSON/],
    ['an array', post([1]), /JSON object/],
    ['an unmask without a reason', post({ command: 'unmask', token: 't' }), /"reason"/],
    ['a blank reason', post({ command: 'unmask', token: 't', reason: '  ' }), /"reason"/],
    ['an unmask without a token', post({ command: 'unmask', reason: 'r' }), /"token"/],
    ['a fractional batch size', post({ command: 'rekey', batchSize: 1.5 }), /"batchSize"/],
    ['a forget without a user id', post({ command: 'forget', reason: 'r' }), /"userId"/],
    ['a forget without a reason', post({ command: 'forget', userId: 'u' }), /"reason"/],
    [
      'a forget whose reason holds the user id',
      post({ command: 'forget', userId: 'u-77', reason: 'request of u-77' }),
      /must not contain the user id/,
    ],
    [
      'a forget with deleteDeadLetters not a boolean',
      post({ command: 'forget', userId: 'u', reason: 'r', deleteDeadLetters: 'yes' }),
      /"deleteDeadLetters"/,
    ],
  ])('refuses %s with a RequestError', (_, text, message) => {
    expect(() => parseRequest(text)).toThrow(RequestError);
    expect(() => parseRequest(text)).toThrow(message);
  });

  it('throws nothing but RequestError, whatever the body', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (body) => {
          try {
            parseRequest(body);
          } catch (error) {
            expect(error).toBeInstanceOf(RequestError);
          }
        },
      ),
    );
  });
});

describe('forgetInputProblem', () => {
  it.each([
    ['u-77', 'GDPR art. 17 request 2026-113', undefined],
    ['a', 'a request by mail', /must not contain the user id/],
    ['a', 'erasure request', undefined],
    ['u.77', 'ticket u.77', /must not contain the user id/],
    ['u.77', 'ticket ux77', undefined],
    ['Alice', 'alice asked by mail', /must not contain the user id/],
    ['ALICE', 'request of Alice', /must not contain the user id/],
    ['  ', 'r', /a user id is required/],
    ['u', ' ', /a reason is required/],
  ])('user %j, reason %j: %s', (userId, reason, problem) => {
    const found = forgetInputProblem(userId, reason);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('never repeats the user id in its message', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 3 }), fc.string(), (userId, reason) => {
        fc.pre(userId.trim().length >= 3);
        expect(forgetInputProblem(userId, reason) ?? '').not.toContain(userId.trim());
      }),
    );
  });
});
