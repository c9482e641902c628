/**
 * The operator commands' `--function-url` path: the same request, run by the operations
 * function inside the VPC, sent as a SigV4-signed (service `lambda`) POST with the caller's
 * default AWS credentials, which the function URL's AuthType AWS_IAM checks. Inside it goes
 * the caller proof: an sts:GetCallerIdentity request signed with the same credentials, bound
 * to the function and to this request, which the function has STS check (caller-proof.ts).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  type CallerProof,
  FUNCTION_HEADER,
  GET_CALLER_IDENTITY_BODY,
  NONCE_HEADER,
  PROOF_CONTENT_TYPE,
  REQUEST_HEADER,
  sha256Hex,
} from '../core/caller-proof';
import { UnreachableError, UsageError } from '../core/errors';
import { RecoveryError } from '../core/recovery';
import { stsEndpoint } from '../functions/config';
import type { OperationRequest } from '../ops/requests';

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (HMAC-SHA-256 with a secret) from node:crypto, in the shape SignatureV4 takes. */
export class Sha256 {
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

/** Where the operations function is, and what the caller proof is signed for. */
export interface OperationsTarget {
  readonly url: URL;
  /** The function's unqualified ARN, from the URL's `function` parameter. */
  readonly functionArn: string;
  /** The function's region (from its ARN): the URL's and STS's signing region. */
  readonly region: string;
  /** STS's endpoint the proof is signed for: AWS_ENDPOINT_URL_STS, else the region's. */
  readonly stsEndpoint: URL;
}

const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):\d{12}:function:[\w-]+$/;

/**
 * A --function-url value, the stack's OpsFunctionUrl output: the function URL with the
 * function's ARN as its `function` parameter (what the caller proof is bound to). Throws
 * UsageError for anything else.
 */
export function functionUrlFlag(raw: string | undefined): OperationsTarget | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const shape =
    "--function-url must be the stack's OpsFunctionUrl output: https://<id>.lambda-url.<region>.on.aws/?function=<function ARN>";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(shape);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UsageError('--function-url must be an https:// URL');
  const functionArn = url.searchParams.get('function') ?? '';
  const region = FUNCTION_ARN.exec(functionArn)?.[1];
  if (region === undefined)
    throw new UsageError(`${shape} (its "function" parameter is missing or not a function ARN)`);
  let sts: URL;
  try {
    sts = stsEndpoint({ ...process.env, AWS_REGION: region });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { url, functionArn, region, stsEndpoint: sts };
}

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/**
 * The caller proof for `requestText`: sts:GetCallerIdentity signed with `credentials` for the
 * target's STS endpoint, its signed headers binding it to the function and to the request, and
 * a nonce making it unique.
 */
export async function signCallerProof(
  credentials: Credentials,
  target: Pick<OperationsTarget, 'functionArn' | 'region' | 'stsEndpoint'>,
  requestText: string,
): Promise<CallerProof> {
  const sts = target.stsEndpoint;
  const signer = new SignatureV4({
    service: 'sts',
    region: target.region,
    credentials,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: sts.protocol,
    hostname: sts.hostname,
    port: sts.port ? Number(sts.port) : undefined,
    path: sts.pathname,
    query: {},
    headers: {
      host: sts.host,
      'content-type': PROOF_CONTENT_TYPE,
      [FUNCTION_HEADER]: target.functionArn,
      [NONCE_HEADER]: randomBytes(16).toString('hex'),
      [REQUEST_HEADER]: sha256Hex(requestText),
    },
    body: GET_CALLER_IDENTITY_BODY,
  });
  const { host: _host, ...proof } = signed.headers;
  return proof;
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
  target: OperationsTarget,
  request: OperationRequest,
): Promise<T> {
  const { url, region } = target;
  const requestText = JSON.stringify(request);
  let signed: { headers: Record<string, string> };
  let body: string;
  try {
    const credentials = await defaultProvider()();
    body = JSON.stringify({
      request: requestText,
      proof: await signCallerProof(credentials, target, requestText),
    });
    const signer = new SignatureV4({ service: 'lambda', region, credentials, sha256: Sha256 });
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
