/**
 * The caller proof: an sts:GetCallerIdentity request the operator signed (SigV4) and sent inside
 * the operations request, which the function forwards to STS to learn who signed it. Pure:
 * checks the proof's binding (this function, this request, its age) and reads STS's answer;
 * sending it is sts-verifier.ts's part. Every refusal is an UnauthenticatedError.
 */
import { createHash } from 'node:crypto';
import { UnauthenticatedError } from './errors';

/** The signed header that names the function the proof is for (its unqualified ARN). */
export const FUNCTION_HEADER = 'x-login-queue-function';
/** The signed header that carries the SHA-256 (hex) of the operations request it goes with. */
export const REQUEST_HEADER = 'x-login-queue-request';
/**
 * A signed random value: two proofs for the same request in the same second would otherwise
 * be the same bytes, and the second refused as a replay.
 */
export const NONCE_HEADER = 'x-login-queue-nonce';
/** The body of every proof: STS's query protocol, the one action that needs no permission. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
export const PROOF_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
/** How long a proof is good for, either side of its X-Amz-Date (STS itself allows 15 minutes). */
export const PROOF_MAX_AGE_MS = 5 * 60_000;

/** The headers of the signed GetCallerIdentity request, without `host` (the function sets it). */
export type CallerProof = Readonly<Record<string, string>>;

// What the function forwards to STS; any other header in a proof is refused, not dropped
// (a dropped signed header would only fail at STS, with a less useful message).
const FORWARDED = new Set([
  'authorization',
  'content-type',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
  FUNCTION_HEADER,
  NONCE_HEADER,
  REQUEST_HEADER,
]);
const MUST_SIGN = ['host', 'x-amz-date', FUNCTION_HEADER, NONCE_HEADER, REQUEST_HEADER] as const;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=[^/,\s]+\/\d{8}\/[a-z0-9-]+\/sts\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** SHA-256 of `text` (UTF-8), lowercase hex: what REQUEST_HEADER carries. */
export const sha256Hex = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex');

/** The function ARN without a version or alias qualifier (arn:…:function:<name>). */
export const unqualifiedFunctionArn = (arn: string): string => arn.split(':').slice(0, 7).join(':');

/** A checked proof: its signature (the replay cache's key) and when it stops being good. */
export interface CheckedProof {
  readonly signature: string;
  readonly expiresAtMs: number;
}

const refuse = (message: string): never => {
  throw new UnauthenticatedError(message);
};

/** An X-Amz-Date (20260102T030405Z) as epoch milliseconds, or undefined. */
export function amzDateMs(value: string | undefined): number | undefined {
  const parts = AMZ_DATE.exec(value ?? '');
  if (parts === null) return undefined;
  const [, y, mo, d, h, mi, s] = parts.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
}

/**
 * Reads a proof from a parsed request body, or refuses: none (a direct invoke, an old client),
 * or not an object of strings.
 */
export function proofOf(value: unknown): CallerProof {
  if (value === undefined)
    refuse(
      'no caller proof: the request must carry a signed sts:GetCallerIdentity (use the --function-url client)',
    );
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    refuse('the caller proof must be an object of signed headers');
  const entries = Object.entries(value as object);
  if (!entries.every(([, v]) => typeof v === 'string'))
    refuse('the caller proof must be an object of signed headers');
  return Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), v as string]));
}

/**
 * Checks what the function can check itself before asking STS: the proof is a SigV4
 * signature for STS that signs the binding headers, dated within PROOF_MAX_AGE_MS of `nowMs`,
 * for `functionArn` and for the request whose exact text is `requestText`.
 */
export function checkProof(
  proof: CallerProof,
  expected: { readonly functionArn: string; readonly requestText: string; readonly nowMs: number },
): CheckedProof {
  const extra = Object.keys(proof).find((name) => !FORWARDED.has(name));
  if (extra !== undefined) refuse(`the caller proof carries a header it may not: ${extra}`);
  const auth = AUTHORIZATION.exec(proof.authorization ?? '');
  if (auth === null) refuse('the caller proof is not a SigV4 signature for sts');
  const [, signedHeaders = '', signature = ''] = auth as RegExpExecArray;
  const signed = new Set(signedHeaders.split(';'));
  const unsigned = MUST_SIGN.filter((name) => !signed.has(name));
  if (unsigned.length > 0) refuse(`the caller proof does not sign ${unsigned.join(', ')}`);
  const signedAt = amzDateMs(proof['x-amz-date']);
  if (signedAt === undefined) refuse('the caller proof has no valid X-Amz-Date');
  const age = expected.nowMs - (signedAt as number);
  const minutes = PROOF_MAX_AGE_MS / 60_000;
  if (age > PROOF_MAX_AGE_MS)
    refuse(`the caller proof has expired (proofs last ${minutes} minutes)`);
  if (-age > PROOF_MAX_AGE_MS)
    refuse(`the caller proof is dated more than ${minutes} minutes ahead`);
  if (proof[FUNCTION_HEADER] !== unqualifiedFunctionArn(expected.functionArn))
    refuse('the caller proof was signed for another function');
  if (proof[REQUEST_HEADER] !== sha256Hex(expected.requestText))
    refuse('the caller proof was signed for another request');
  return { signature, expiresAtMs: (signedAt as number) + PROOF_MAX_AGE_MS };
}

const tag = (xml: string, name: string): string | undefined =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

/**
 * The caller's ARN from STS's GetCallerIdentity answer. An answer that is not 200 is STS
 * refusing the proof (bad signature, unknown or expired credentials): UnauthenticatedError
 * naming STS's error code.
 */
export function callerArnOf(status: number, xml: string): string {
  if (status !== 200) return refuse(`STS refused the caller proof: ${tag(xml, 'Code') ?? status}`);
  const arn = tag(xml, 'Arn');
  if (arn === undefined || !arn.startsWith('arn:'))
    return refuse('STS answered without a caller ARN');
  return arn;
}

const SESSION = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/;
const ROLE = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/;

/** Whether `roleArn` is an IAM role ARN (what OPERATOR_ROLE_ARN must hold). */
export const isRoleArn = (roleArn: string): boolean => ROLE.test(roleArn);

/**
 * Refuses `callerArn` unless it is an assumed-role session of `roleArn` (same partition,
 * account and role name; a session ARN carries no role path).
 */
export function requireSessionOf(callerArn: string, roleArn: string): void {
  const session = SESSION.exec(callerArn);
  const role = ROLE.exec(roleArn);
  const same =
    session !== null &&
    role !== null &&
    session[1] === role[1] &&
    session[2] === role[2] &&
    session[3] === role[3];
  if (!same)
    throw new UnauthenticatedError(
      'the caller is not a session of the recovery operator role',
      callerArn,
    );
}
