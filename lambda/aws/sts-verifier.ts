/**
 * Who is calling the operations function, as STS says: the caller proof (caller-proof.ts)
 * checked, claimed in this container's replay cache, forwarded to STS as it was signed, and
 * the ARN STS returns accepted only for a session of the recovery operator role.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  type CallerProof,
  callerArnOf,
  checkProof,
  GET_CALLER_IDENTITY_BODY,
  requireSessionOf,
} from '../core/caller-proof';
import { UnauthenticatedError, UnreachableError } from '../core/errors';

/**
 * The signatures of proofs already used, each kept until its proof expires (`maxAgeMs` after
 * signing at most). One per container: Lambda runs many, so a replay that lands in another
 * container is not seen here (see docs/operations/deploy.md, The operations function).
 */
export class UsedProofs {
  private readonly expiries = new Map<string, number>();

  /** Records `signature`; false when it was already recorded and has not expired. */
  claim(signature: string, expiresAtMs: number, nowMs: number): boolean {
    for (const [key, expiry] of this.expiries) if (expiry < nowMs) this.expiries.delete(key);
    if (this.expiries.has(signature)) return false;
    this.expiries.set(signature, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.expiries.size;
  }
}

/** POSTs the proof's signed request to STS; resolves with STS's status and body. */
function forward(
  endpoint: URL,
  proof: CallerProof,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      endpoint,
      // The host STS checks the signature against is the endpoint's, as the client signed it.
      { method: 'POST', headers: { ...proof, host: endpoint.host }, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(GET_CALLER_IDENTITY_BODY);
  });
}

export interface VerifierOptions {
  /** STS's endpoint (the regional one; in the VPC, its interface endpoint's private DNS). */
  readonly stsEndpoint: URL;
  /** The role whose sessions may call (the recovery operator role). */
  readonly operatorRoleArn: string;
  /** How long STS may take to answer. @default 10000 */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Returns verify(proof, requestText, functionArn): the STS-verified caller ARN. Throws
 * UnauthenticatedError for a refused proof (its `caller` set once STS has named one),
 * UnreachableError when STS cannot be asked.
 */
export function createCallerVerifier(options: VerifierOptions) {
  const used = new UsedProofs();
  const now = options.now ?? Date.now;
  return async (proof: CallerProof, requestText: string, functionArn: string) => {
    const nowMs = now();
    const checked = checkProof(proof, { functionArn, requestText, nowMs });
    // Claimed before STS answers, so two concurrent uses cannot both pass.
    if (!used.claim(checked.signature, checked.expiresAtMs, nowMs))
      throw new UnauthenticatedError('the caller proof was already used');
    let answer: { status: number; text: string };
    try {
      answer = await forward(options.stsEndpoint, proof, options.timeoutMs ?? 10_000);
    } catch (error) {
      throw new UnreachableError(
        `STS at ${options.stsEndpoint.origin}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (answer.status >= 500)
      throw new UnreachableError(`STS at ${options.stsEndpoint.origin} answered ${answer.status}`);
    const arn = callerArnOf(answer.status, answer.text);
    requireSessionOf(arn, options.operatorRoleArn);
    return arn;
  };
}
