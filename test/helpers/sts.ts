/**
 * A stand-in for STS's GetCallerIdentity on 127.0.0.1. It checks each request's SigV4
 * signature for real: it signs the request it received again with the credentials registered
 * for the access key id (@smithy/signature-v4, the signer the AWS SDK uses) and compares.
 * It refuses as STS does, with STS's XML error (403), and answers a good request with the ARN
 * of the identity whose credentials signed it.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../lambda/cli/remote';
import { amzDateMs, GET_CALLER_IDENTITY_BODY, sha256Hex } from '../../lambda/core/caller-proof';

/** A local identity: its credentials and the ARN STS names it by. */
export interface LocalIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly arn: string;
}

export interface LocalSts {
  readonly url: string;
  /** Requests answered, by outcome: the ARN, or STS's error code. */
  readonly answers: string[];
  stop(): Promise<void>;
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
// STS accepts a request dated up to 15 minutes either side of its clock.
const SKEW_MS = 15 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const errorXml = (code: string, message: string) =>
  `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`;

const identityXml = (arn: string) => {
  const account = arn.split(':')[4];
  return `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>AROALOCAL:${arn.split('/').at(-1)}</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
};

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the stand-in for `region`, knowing `identities`. */
export async function startSts(
  identities: readonly LocalIdentity[],
  region = 'us-east-1',
): Promise<LocalSts> {
  const answers: string[] = [];
  const byKey = new Map(identities.map((identity) => [identity.accessKeyId, identity]));

  const verify = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<LocalIdentity> => {
    const auth = AUTHORIZATION.exec(headers.authorization ?? '');
    if (auth === null)
      throw new Refusal('MissingAuthenticationToken', 'Request is missing Authentication Token');
    const [, keyId = '', , scopeRegion, service, signedList = '', signature = ''] = auth;
    const identity = byKey.get(keyId);
    if (identity === undefined || headers['x-amz-security-token'] !== identity.sessionToken)
      throw new Refusal(
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
      );
    if (service !== 'sts' || scopeRegion !== region)
      throw new Refusal('SignatureDoesNotMatch', `Credential should be scoped to ${region}/sts.`);
    const signedAt = amzDateMs(headers['x-amz-date']);
    if (signedAt === undefined || Math.abs(Date.now() - signedAt) > SKEW_MS)
      throw new Refusal('SignatureDoesNotMatch', 'Signature expired: the request is too old.');
    const contentHash = headers['x-amz-content-sha256'];
    if (contentHash !== undefined && contentHash !== sha256Hex(body))
      throw new Refusal('SignatureDoesNotMatch', 'The payload hash does not match the body.');
    // Sign again exactly what the client says it signed, and compare.
    const signed = signedList.split(';');
    const resigned = await new SignatureV4({
      service: 'sts',
      region,
      credentials: identity,
      sha256: Sha256,
      applyChecksum: false,
    }).sign(
      {
        method,
        protocol: 'https:',
        hostname: headers.host ?? '',
        path,
        query: {},
        headers: Object.fromEntries(signed.map((name) => [name, headers[name] ?? ''])),
        body,
      },
      { signingDate: new Date(signedAt), signableHeaders: new Set(signed) },
    );
    const expected = /Signature=([0-9a-f]{64})$/.exec(resigned.headers.authorization ?? '')?.[1];
    if (
      expected === undefined ||
      !timingSafeEqual(Buffer.from(expected), Buffer.from(signature)) ||
      !resigned.headers.authorization?.includes(`SignedHeaders=${signedList},`)
    )
      throw new Refusal(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    if (method !== 'POST' || body !== GET_CALLER_IDENTITY_BODY)
      throw new Refusal('InvalidAction', 'Only GetCallerIdentity is served here.');
    return identity;
  };

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
    );
    try {
      const identity = await verify(
        request.method ?? '',
        request.url ?? '/',
        headers,
        Buffer.concat(chunks).toString('utf8'),
      );
      answers.push(identity.arn);
      response.writeHead(200, { 'content-type': 'text/xml' });
      response.end(identityXml(identity.arn));
    } catch (error) {
      const refusal =
        error instanceof Refusal ? error : new Refusal('InternalFailure', String(error));
      answers.push(refusal.code);
      response.writeHead(refusal.code === 'InternalFailure' ? 500 : 403, {
        'content-type': 'text/xml',
      });
      response.end(errorXml(refusal.code, refusal.message));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    answers,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
