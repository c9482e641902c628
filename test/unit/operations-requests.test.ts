/**
 * What the operations function accepts: the caller only from a verified IAM authorizer, and
 * requests parsed into typed commands or refused with a RequestError; never an untyped throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError, UnauthenticatedError } from '../../lambda/errors';
import { callerOf, parseRequest } from '../../lambda/ops/requests';

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
    expect(parseRequest(post({ command: 'rekey' }))).toEqual({ command: 'rekey', batchSize: 1000 });
    expect(parseRequest(post({ command: 'dlq-peek' }))).toEqual({ command: 'dlq-peek' });
    const encoded = Buffer.from(JSON.stringify({ command: 'redrive' })).toString('base64');
    expect(parseRequest({ body: encoded, isBase64Encoded: true })).toEqual({ command: 'redrive' });
  });

  it.each([
    ['a GET', { requestContext: { http: { method: 'GET' } } }, /use POST/],
    ['no body', { body: undefined }, /not JSON/],
    ['an array', post([1]), /JSON object/],
    ['an unmask without a reason', post({ command: 'unmask', token: 't' }), /"reason"/],
    ['a blank reason', post({ command: 'unmask', token: 't', reason: '  ' }), /"reason"/],
    ['an unmask without a token', post({ command: 'unmask', reason: 'r' }), /"token"/],
    ['a fractional batch size', post({ command: 'rekey', batchSize: 1.5 }), /"batchSize"/],
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
