/**
 * The operator commands' `--function-url` path: the same request, run by the operations
 * function inside the VPC, sent as a SigV4-signed (service `lambda`) POST with the caller's
 * default AWS credentials. The function URL's AuthType AWS_IAM checks the signature and tells
 * the function who signed.
 */
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { UnreachableError, UsageError } from '../errors';
import { RecoveryError } from '../recovery';
import type { OperationRequest } from './requests';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (HMAC-SHA-256 with a secret) from node:crypto, in the shape SignatureV4 takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/**
 * A --function-url value: a URL, else UsageError. The region comes from the URL's host
 * (<id>.lambda-url.<region>.on.aws), else from AWS_REGION.
 */
export function functionUrlFlag(raw: string | undefined): { url: URL; region: string } | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(
      '--function-url must be a URL like https://<id>.lambda-url.<region>.on.aws/',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UsageError('--function-url must be an https:// URL');
  const region =
    /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1] ?? process.env.AWS_REGION;
  if (!region)
    throw new UsageError('--function-url: set AWS_REGION (the URL does not name a region)');
  return { url, region };
}

function post(url: URL, headers: Record<string, string>, body: string) {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    // No client timeout: rekey may run as long as the function's own (15 minutes).
    const req = send(url, { method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `request` to the operations function and returns its JSON answer. Throws UsageError
 * for a request it refused as bad (400), RecoveryError for a token it cannot open (422),
 * UnreachableError naming the URL for anything else (no credentials, 403, 5xx, network).
 */
export async function invokeOperations<T>(
  target: { url: URL; region: string },
  request: OperationRequest,
): Promise<T> {
  const { url, region } = target;
  const body = JSON.stringify(request);
  const signer = new SignatureV4({
    service: 'lambda',
    region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  let signed: { headers: Record<string, string> };
  try {
    signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
  } catch (error) {
    throw new UnreachableError(
      `no AWS credentials to sign the call to ${url.origin}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let answer: { status: number; text: string };
  try {
    answer = await post(url, signed.headers, body);
  } catch (error) {
    throw new UnreachableError(
      `operations function at ${url.origin}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let parsed: { error?: string; Message?: string } | undefined;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    parsed = undefined;
  }
  if (answer.status === 200 && parsed !== undefined) return parsed as T;
  const message = parsed?.error ?? parsed?.Message ?? answer.text.slice(0, 200);
  if (answer.status === 400)
    throw new UsageError(`the operations function refused the request: ${message}`);
  if (answer.status === 422) throw new RecoveryError(message);
  throw new UnreachableError(
    `operations function at ${url.origin} answered ${answer.status}: ${message}`,
  );
}
