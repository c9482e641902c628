/**
 * The --function-url client: which URL and region it signs for, and what each answer of the
 * operations function becomes (a value, a usage error, a recovery error, a named failure).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnreachableError, UsageError } from '../../lambda/errors';
import { functionUrlFlag, invokeOperations } from '../../lambda/ops/remote';
import { RecoveryError } from '../../lambda/recovery';
import { snapshotEnv } from '../helpers/env';

const env = snapshotEnv();
beforeEach(() => {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDUNIT';
  process.env.AWS_SECRET_ACCESS_KEY = 'unit-secret';
  process.env.AWS_REGION = 'eu-west-1';
});
afterEach(() => env.restore());

describe('functionUrlFlag', () => {
  it('takes the region from a function URL host, else from AWS_REGION', () => {
    expect(functionUrlFlag('https://abc123.lambda-url.ap-southeast-2.on.aws/')?.region).toBe(
      'ap-southeast-2',
    );
    expect(functionUrlFlag('http://127.0.0.1:9000/')?.region).toBe('eu-west-1');
    expect(functionUrlFlag(undefined)).toBeUndefined();
    expect(functionUrlFlag(' ')).toBeUndefined();
  });

  it.each([
    ['not a URL', 'abc123'],
    ['another scheme', 'ftp://abc123.lambda-url.eu-west-1.on.aws/'],
  ])('refuses %s with a UsageError', (_, raw) => {
    expect(() => functionUrlFlag(raw)).toThrow(UsageError);
  });

  it('asks for AWS_REGION when the URL does not name one', () => {
    delete process.env.AWS_REGION;
    expect(() => functionUrlFlag('http://127.0.0.1:9000/')).toThrow(/set AWS_REGION/);
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

  const call = () => invokeOperations({ url, region: 'eu-west-1' }, { command: 'dlq-peek' });

  it('posts the request signed for lambda in the region, and returns the JSON answer', async () => {
    answer = { status: 200, body: '{"total":0}' };
    await expect(call()).resolves.toEqual({ total: 0 });
    expect(JSON.parse(seen.body)).toEqual({ command: 'dlq-peek' });
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
    const failure = invokeOperations({ url: closed, region: 'eu-west-1' }, { command: 'redrive' });
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
