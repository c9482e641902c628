/**
 * The caller proof: what the function checks itself (binding, age, signed headers), what it
 * reads from STS, whose sessions it accepts, and the verifier end to end against the local STS
 * stand-in, which checks real SigV4 signatures.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallerVerifier, UsedProofs } from '../../../lambda/aws/sts-verifier';
import { signCallerProof } from '../../../lambda/cli/remote';
import {
  type CallerProof,
  callerArnOf,
  checkProof,
  PROOF_MAX_AGE_MS,
  requireSessionOf,
  unqualifiedFunctionArn,
} from '../../../lambda/core/caller-proof';
import { UnauthenticatedError, UnreachableError } from '../../../lambda/core/errors';
import { type LocalSts, startSts } from '../../helpers/sts';

const FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:login-queue-ops';
const ROLE = 'arn:aws:iam::123456789012:role/RecoveryOperatorRole';
const ALICE = {
  accessKeyId: 'ASIAALICE',
  secretAccessKey: 'alice-secret',
  sessionToken: 'alice-session',
  arn: 'arn:aws:sts::123456789012:assumed-role/RecoveryOperatorRole/alice',
};
const CI = {
  accessKeyId: 'ASIACI',
  secretAccessKey: 'ci-secret',
  sessionToken: 'ci-session',
  arn: 'arn:aws:sts::123456789012:assumed-role/ci-deploy/build-7',
};
const REQUEST = '{"command":"dlq-peek"}';

let sts: LocalSts;
beforeAll(async () => {
  sts = await startSts([ALICE, CI]);
});
afterAll(() => sts?.stop());

const proofBy = (identity: typeof ALICE, options: { functionArn?: string } = {}) =>
  signCallerProof(
    identity,
    {
      functionArn: options.functionArn ?? FUNCTION,
      region: 'us-east-1',
      stsEndpoint: new URL(sts.url),
    },
    REQUEST,
  );
const check = (proof: CallerProof, nowMs = Date.now(), requestText = REQUEST) =>
  checkProof(proof, { functionArn: FUNCTION, requestText, nowMs });

describe('checkProof', () => {
  it('accepts a fresh proof for this function and request, and keeps it until it expires', async () => {
    const now = Date.now();
    const proof = await proofBy(ALICE);
    const checked = check(proof, now);
    expect(checked.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(checked.expiresAtMs).toBeGreaterThan(now + PROOF_MAX_AGE_MS - 2000);
    expect(checked.expiresAtMs).toBeLessThanOrEqual(now + PROOF_MAX_AGE_MS + 1000);
  });

  it('accepts a proof for an alias of this function (the qualifier is not part of the binding)', async () => {
    const proof = await proofBy(ALICE);
    expect(() =>
      checkProof(proof, {
        functionArn: `${FUNCTION}:live`,
        requestText: REQUEST,
        nowMs: Date.now(),
      }),
    ).not.toThrow();
    expect(unqualifiedFunctionArn(`${FUNCTION}:live`)).toBe(FUNCTION);
  });

  it.each([
    ['an expired proof', 0, PROOF_MAX_AGE_MS + 1000, /has expired/],
    ['a proof dated ahead', 0, -(PROOF_MAX_AGE_MS + 1000), /dated more than 5 minutes ahead/],
  ])('refuses %s', async (_, __, shiftMs, message) => {
    const proof = await proofBy(ALICE);
    expect(() => check(proof, Date.now() + shiftMs)).toThrow(UnauthenticatedError);
    expect(() => check(proof, Date.now() + shiftMs)).toThrow(message);
  });

  it('refuses a proof signed for another function', async () => {
    const proof = await proofBy(ALICE, {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:other-ops',
    });
    expect(() => check(proof)).toThrow(/signed for another function/);
  });

  it('refuses a proof signed for another request', async () => {
    const proof = await proofBy(ALICE);
    expect(() => check(proof, Date.now(), '{"command":"redrive"}')).toThrow(
      /signed for another request/,
    );
  });

  it.each([
    [
      'that leaves the function header unsigned',
      (p: CallerProof) => ({
        ...p,
        authorization: String(p.authorization).replace(';x-login-queue-function', ''),
      }),
      /does not sign x-login-queue-function/,
    ],
    [
      'signed for another service',
      (p: CallerProof) => ({
        ...p,
        authorization: String(p.authorization).replace('/sts/', '/lambda/'),
      }),
      /not a SigV4 signature for sts/,
    ],
    ['without a signature', ({ authorization: _, ...p }: CallerProof) => p, /not a SigV4/],
    [
      'with a header the function would not forward',
      (p: CallerProof) => ({ ...p, 'x-forwarded-host': 'sts.amazonaws.com' }),
      /a header it may not: x-forwarded-host/,
    ],
    [
      'without a date',
      (p: CallerProof) => ({ ...p, 'x-amz-date': 'yesterday' }),
      /no valid X-Amz-Date/,
    ],
  ])('refuses a proof %s', async (_, change, message) => {
    const proof = change(await proofBy(ALICE));
    expect(() => check(proof)).toThrow(message);
  });
});

describe("reading STS's answer", () => {
  it('takes the ARN from a GetCallerIdentity answer', () => {
    const xml = `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>${ALICE.arn}</Arn><UserId>AROA:alice</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
    expect(callerArnOf(200, xml)).toBe(ALICE.arn);
  });

  it.each([
    [
      403,
      '<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>',
      /STS refused the caller proof: SignatureDoesNotMatch/,
    ],
    [400, 'not xml', /STS refused the caller proof: 400/],
    [200, '<GetCallerIdentityResponse/>', /without a caller ARN/],
  ])('refuses a %i answer (%s)', (status, xml, message) => {
    expect(() => callerArnOf(status, xml)).toThrow(UnauthenticatedError);
    expect(() => callerArnOf(status, xml)).toThrow(message);
  });
});

describe('requireSessionOf', () => {
  it('accepts a session of the role, with or without a path on the role', () => {
    expect(() => requireSessionOf(ALICE.arn, ROLE)).not.toThrow();
    expect(() =>
      requireSessionOf(ALICE.arn, 'arn:aws:iam::123456789012:role/ops/RecoveryOperatorRole'),
    ).not.toThrow();
  });

  it.each([
    ['a session of another role', CI.arn],
    [
      'a session of the same role name in another account',
      'arn:aws:sts::999999999999:assumed-role/RecoveryOperatorRole/alice',
    ],
    ['an IAM user', 'arn:aws:iam::123456789012:user/alice'],
    ['the role itself', ROLE],
    ['the account root', 'arn:aws:iam::123456789012:root'],
  ])('refuses %s, naming the verified caller', (_, arn) => {
    let refused: unknown;
    try {
      requireSessionOf(arn, ROLE);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(UnauthenticatedError);
    expect(refused).toMatchObject({
      message: 'the caller is not a session of the recovery operator role',
      caller: arn,
    });
  });
});

describe('UsedProofs', () => {
  it('lets a signature through once while it is good, and forgets it once expired', () => {
    const used = new UsedProofs();
    expect(used.claim('s1', 1000, 0)).toBe(true);
    expect(used.claim('s1', 1000, 999)).toBe(false);
    expect(used.claim('s2', 5000, 1001)).toBe(true);
    expect(used.size).toBe(1);
    expect(used.claim('s1', 3000, 1001)).toBe(true);
  });
});

describe('the caller verifier against the STS stand-in', () => {
  const verifier = () =>
    createCallerVerifier({ stsEndpoint: new URL(sts.url), operatorRoleArn: ROLE });

  it("returns the ARN STS names for the operator's proof", async () => {
    const proof = await proofBy(ALICE);
    await expect(verifier()(proof, REQUEST, FUNCTION)).resolves.toBe(ALICE.arn);
    expect(sts.answers.at(-1)).toBe(ALICE.arn);
  });

  it("refuses a proof whose signed binding was rewritten: another function's proof renamed to this one", async () => {
    const proof = await proofBy(ALICE, {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:other-ops',
    });
    const renamed = { ...proof, 'x-login-queue-function': FUNCTION };
    await expect(verifier()(renamed, REQUEST, FUNCTION)).rejects.toThrow(
      'STS refused the caller proof: SignatureDoesNotMatch',
    );
    expect(sts.answers.at(-1)).toBe('SignatureDoesNotMatch');
  });

  it('refuses a proof whose credentials STS does not know (a session token swapped)', async () => {
    const proof = await proofBy(ALICE);
    const swapped = { ...proof, 'x-amz-security-token': CI.sessionToken };
    await expect(verifier()(swapped, REQUEST, FUNCTION)).rejects.toThrow(
      'STS refused the caller proof: InvalidClientTokenId',
    );
  });

  it('refuses a proof signed with a wrong secret, as STS does', async () => {
    const proof = await proofBy({ ...ALICE, secretAccessKey: 'guessed' });
    await expect(verifier()(proof, REQUEST, FUNCTION)).rejects.toThrow(
      'STS refused the caller proof: SignatureDoesNotMatch',
    );
    expect(sts.answers.at(-1)).toBe('SignatureDoesNotMatch');
  });

  it("refuses another role's valid proof, naming that role's session", async () => {
    const proof = await proofBy(CI);
    await expect(verifier()(proof, REQUEST, FUNCTION)).rejects.toMatchObject({
      name: 'UnauthenticatedError',
      caller: CI.arn,
    });
  });

  it('refuses a proof used a second time, without asking STS again', async () => {
    const verify = verifier();
    const proof = await proofBy(ALICE);
    await verify(proof, REQUEST, FUNCTION);
    const asked = sts.answers.length;
    await expect(verify(proof, REQUEST, FUNCTION)).rejects.toThrow(
      'the caller proof was already used',
    );
    expect(sts.answers.length).toBe(asked);
  });

  it('accepts the same request signed twice at once: each proof has its own signed nonce', async () => {
    const verify = verifier();
    const [first, second] = await Promise.all([proofBy(ALICE), proofBy(ALICE)]);
    expect(first?.['x-login-queue-nonce']).not.toBe(second?.['x-login-queue-nonce']);
    expect(first?.authorization).not.toBe(second?.authorization);
    await expect(verify(first as CallerProof, REQUEST, FUNCTION)).resolves.toBe(ALICE.arn);
    await expect(verify(second as CallerProof, REQUEST, FUNCTION)).resolves.toBe(ALICE.arn);
  });

  it('fails as unreachable, not as refused, when STS does not answer', async () => {
    const verify = createCallerVerifier({
      stsEndpoint: new URL('http://127.0.0.1:9/'),
      operatorRoleArn: ROLE,
    });
    const failure = verify(await proofBy(ALICE), REQUEST, FUNCTION);
    await expect(failure).rejects.toBeInstanceOf(UnreachableError);
    await expect(failure).rejects.toThrow('STS at http://127.0.0.1:9');
  });

  it.each([
    ['answers 503', (_: unknown, res: ServerResponse) => res.writeHead(503).end(), 'answered 503'],
    ['does not answer in time', () => {}, ': no answer in 300 ms'],
  ])('fails as unreachable when STS %s', async (_, answer, message) => {
    const server = createServer(answer);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const verify = createCallerVerifier({
        stsEndpoint: new URL(at),
        operatorRoleArn: ROLE,
        timeoutMs: 300,
      });
      const failure = verify(await proofBy(ALICE), REQUEST, FUNCTION);
      await expect(failure).rejects.toBeInstanceOf(UnreachableError);
      await expect(failure).rejects.toThrow(
        `STS at ${at}${message.startsWith(':') ? '' : ' '}${message}`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
