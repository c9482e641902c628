/**
 * What the operations function accepts: the caller only from a verified IAM authorizer, and
 * requests parsed into typed commands or refused with a RequestError; never an untyped throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError, UnauthenticatedError } from '../../lambda/errors';
import { callerOf, forgetInputProblem, parseRequest } from '../../lambda/ops/requests';

const ARN = 'arn:aws:sts::123456789012:assumed-role/RecoveryOperatorRole/alice';
const post = (body: unknown, extra: object = {}) => ({
  body: typeof body === 'string' ? body : JSON.stringify(body),
  requestContext: { http: { method: 'POST' } },
  ...extra,
});

describe('callerOf', () => {
  it('takes the caller from the IAM authorizer Lambda fills in', () => {
    const event = { requestContext: { authorizer: { iam: { userArn: ARN, accountId: '1' } } } };
    expect(callerOf(event)).toEqual({ arn: ARN, accountId: '1' });
  });

  it.each([
    ['a direct invoke payload', { command: 'unmask' }],
    ['no authorizer', { requestContext: {} }],
    ['an empty ARN', { requestContext: { authorizer: { iam: { userArn: '' } } } }],
    ['something not an ARN', { requestContext: { authorizer: { iam: { userArn: 'alice' } } } }],
  ])('refuses %s with UnauthenticatedError', (_, event) => {
    expect(() => callerOf(event as never)).toThrow(UnauthenticatedError);
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
    const encoded = Buffer.from(JSON.stringify({ command: 'redrive' })).toString('base64');
    expect(parseRequest({ body: encoded, isBase64Encoded: true })).toEqual({
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

  it.each([
    ['a dryRun not a boolean', post({ command: 'redrive', dryRun: 'yes' }), /"dryRun"/],
    ['a GET', { requestContext: { http: { method: 'GET' } } }, /use POST/],
    ['no body', { body: undefined }, /not JSON/],
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
  ])('refuses %s with a RequestError', (_, event, message) => {
    expect(() => parseRequest(event as never)).toThrow(RequestError);
    expect(() => parseRequest(event as never)).toThrow(message);
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
            parseRequest({ body });
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
