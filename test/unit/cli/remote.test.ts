/**
 * The --function-url client: which URL, function and region it signs for, the caller proof it
 * sends, and what each answer of the operations function becomes (a value, a usage error, a recovery error, a named failure).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { functionUrlFlag, invokeOperations } from '../../../lambda/cli/remote';
import { UnreachableError, UsageError } from '../../../lambda/core/errors';
import { RecoveryError } from '../../../lambda/core/recovery';
import { snapshotEnv } from '../../helpers/env';

const env = snapshotEnv();
beforeEach(() => {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDUNIT';
  process.env.AWS_SECRET_ACCESS_KEY = 'unit-secret';
  process.env.AWS_REGION = 'eu-west-1';
});
afterEach(() => env.restore());

const ARN = 'arn:aws:lambda:ap-southeast-2:123456789012:function:LoginQueue-Operations1A2B';
const OUTPUT = `https://abc123.lambda-url.ap-southeast-2.on.aws/?function=${ARN}`;

describe('functionUrlFlag', () => {
  it("reads the stack's OpsFunctionUrl output: the URL, the function's ARN and region, and STS's regional endpoint", () => {
    delete process.env.AWS_ENDPOINT_URL_STS;
    const target = functionUrlFlag(OUTPUT);
    expect(target?.functionArn).toBe(ARN);
    expect(target?.region).toBe('ap-southeast-2');
    expect(target?.url.href).toBe(OUTPUT);
    expect(target?.stsEndpoint.href).toBe('https://sts.ap-southeast-2.amazonaws.com/');
    expect(functionUrlFlag(undefined)).toBeUndefined();
    expect(functionUrlFlag(' ')).toBeUndefined();
  });

  it('signs proofs for AWS_ENDPOINT_URL_STS when it is set', () => {
    process.env.AWS_ENDPOINT_URL_STS = 'http://127.0.0.1:9001';
    expect(functionUrlFlag(OUTPUT)?.stsEndpoint.href).toBe('http://127.0.0.1:9001/');
  });

  it.each([
    ['not a URL', 'abc123'],
    ['another scheme', `ftp://abc123.lambda-url.eu-west-1.on.aws/?function=${ARN}`],
    ['a URL without the function parameter', 'https://abc123.lambda-url.eu-west-1.on.aws/'],
    [
      'a function parameter that is not a function ARN',
      'https://abc123.lambda-url.eu-west-1.on.aws/?function=LoginQueue-Operations',
    ],
  ])('refuses %s with a UsageError', (_, raw) => {
    expect(() => functionUrlFlag(raw)).toThrow(UsageError);
  });
});

describe('invokeOperations', () => {
  let server: Server;
  let answer = { status: 200, body: '{}' };
  let seen: { authorization?: string; body: string } = { body: '' };
  let url: URL;
  beforeAll(async () => {
    server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      seen = {
        authorization: request.headers.authorization,
        body: Buffer.concat(chunks).toString(),
      };
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const target = (at: URL) => ({
    url: at,
    region: 'eu-west-1',
    functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ops',
    stsEndpoint: new URL('https://sts.eu-west-1.amazonaws.com/'),
  });
  const call = () => invokeOperations(target(url), { command: 'dlq-peek' });

  it('posts the request with its caller proof, signed for lambda in the region, and returns the JSON answer', async () => {
    answer = { status: 200, body: '{"total":0}' };
    await expect(call()).resolves.toEqual({ total: 0 });
    const sent = JSON.parse(seen.body);
    expect(sent.request).toBe('{"command":"dlq-peek"}');
    expect(sent.proof).toMatchObject({
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDUNIT\/\d{8}\/eu-west-1\/sts\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-login-queue-function;x-login-queue-nonce;x-login-queue-request, /,
      ),
      'x-login-queue-function': 'arn:aws:lambda:eu-west-1:123456789012:function:ops',
      'x-login-queue-request': createHash('sha256').update(sent.request).digest('hex'),
      'x-login-queue-nonce': expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(seen.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDUNIT\/\d{8}\/eu-west-1\/lambda\/aws4_request, /,
    );
  });

  it.each([
    [
      400,
      '{"error":"\\"reason\\" is required"}',
      UsageError,
      /refused the request: "reason" is required/,
    ],
    [422, '{"error":"no row holds this token"}', RecoveryError, /no row holds this token/],
    [403, '{"Message":"Forbidden"}', UnreachableError, /answered 403: Forbidden/],
    [500, '{"error":"the operation failed (ConfigError)"}', UnreachableError, /answered 500/],
    [502, 'Bad Gateway', UnreachableError, /answered 502: Bad Gateway/],
  ])('turns a %i answer into the named error', async (status, body, type, message) => {
    answer = { status, body };
    const failure = call();
    await expect(failure).rejects.toBeInstanceOf(type);
    await expect(failure).rejects.toThrow(message);
  });

  it('names the URL when nothing answers', async () => {
    const closed = new URL('http://127.0.0.1:9/');
    const failure = invokeOperations(target(closed), { command: 'redrive' });
    await expect(failure).rejects.toBeInstanceOf(UnreachableError);
    await expect(failure).rejects.toThrow('operations function at http://127.0.0.1:9');
  });

  it('says there are no credentials to sign with, before sending anything', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_PROFILE = 'login-queue-unit-no-such-profile';
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    seen = { body: '' };
    const failure = call();
    await expect(failure).rejects.toBeInstanceOf(UnreachableError);
    await expect(failure).rejects.toThrow(/no AWS credentials to sign the call/);
    expect(seen.body).toBe('');
  });
});
