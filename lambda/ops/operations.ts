/**
 * The operations function's core: unmask, rekey, DLQ peek and redrive, and erasure on request
 * (rekey, redrive and forget also as a dry run: `dryRun`), each through the same code the CLI runs locally (recover.ts, rekey.ts, dead-letters.ts,
 * forget.ts). The caller is the identity STS names for the caller proof the request carries
 * (sts-verifier.ts), never one the event claims; every unmask, recovered or refused, and every
 * refused caller leaves an audit line (never the value), and a recovery also an audit row
 * naming that identity; an erasure leaves its audit row and line (a token, never the id).
 */
import type { KeyObject } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { peekDeadLetters, previewRedrive, redrive } from '../aws/dead-letters';
import { queueArnOf } from '../aws/queues';
import { queueDepth } from '../aws/source-queue';
import { type CallerProof, proofOf } from '../core/caller-proof';
import { UnauthenticatedError } from '../core/errors';
import type { KeyRing } from '../core/key-ring';
import { signMarker } from '../core/redrive-marker';
import type { Pool } from '../db/pool';
import { forgetUser, previewForget } from './forget';
import { recoverToken } from './recover';
import { previewRekey, rekey } from './rekey';
import {
  type Envelope,
  envelopeOf,
  type OperationRequest,
  type OperationsEvent,
  parseRequest,
  requestTextOf,
} from './requests';

export interface OperationsDeps {
  readonly pool: Pool;
  /** Read for each request that needs it (never kept between requests). */
  readonly recoveryRing: () => Promise<ReadonlyMap<string, KeyObject>>;
  readonly maskingRing: () => Promise<KeyRing>;
  readonly sqs: SQSClient;
  readonly queues: { readonly dlqUrl: string; readonly queueUrl: string };
  /** One audit line (stderr in Lambda, as the CLI writes it). */
  readonly audit: (entry: Record<string, unknown>) => void;
  /** Failures that are not the caller's: name and message, never a request body. */
  readonly onFailure: (command: string | undefined, error: Error) => void;
  /**
   * The STS-verified ARN of whoever signed `proof` for this function and request; throws
   * UnauthenticatedError to refuse (sts-verifier.ts).
   */
  readonly verifyCaller: (
    proof: CallerProof,
    requestText: string,
    functionArn: string,
  ) => Promise<string>;
}

export interface OperationsResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const reply = (statusCode: number, body: unknown): OperationsResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

// Client faults, answered with their message; anything else is a 500 without details.
const STATUS: Readonly<Record<string, number>> = {
  RequestError: 400,
  UnauthenticatedError: 403,
  RecoveryError: 422,
};

/** The command and token a body names, for the audit line of a refused request (never a user id). */
function claimed(envelope: Envelope): { command?: string; token?: string; reason?: string } {
  try {
    const { command, token, reason } = JSON.parse(String(envelope.request)) as Record<
      string,
      unknown
    >;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    return { command: text(command), token: text(token), reason: text(reason) };
  } catch {
    return {};
  }
}

/** Handles one function URL request; never throws (every outcome is a response). */
export function createOperations(deps: OperationsDeps) {
  const perform = async (request: OperationRequest, caller: string): Promise<unknown> => {
    switch (request.command) {
      case 'unmask': {
        const { token, reason } = request;
        const recovered = await recoverToken(deps.pool, token, await deps.recoveryRing(), {
          operator: caller,
          reason,
        });
        deps.audit({
          audit: 'unmask',
          at: new Date().toISOString(),
          operator: caller,
          token,
          reason,
          outcome: 'recovered',
          field: recovered.field,
          messageId: recovered.messageId,
          recoveryKeyId: recovered.recoveryKeyId,
        });
        return { ...recovered, operator: caller };
      }
      case 'rekey': {
        const masking = await deps.maskingRing();
        const ring = await deps.recoveryRing();
        if (request.dryRun)
          return {
            ...(await previewRekey(deps.pool, masking.current.id, ring)),
            keyId: masking.current.id,
          };
        const result = await rekey(deps.pool, masking, ring, {
          batchSize: request.batchSize,
        });
        return { ...result, keyId: masking.current.id };
      }
      case 'dlq-peek':
        return peekDeadLetters(deps.sqs, deps.queues.dlqUrl);
      case 'redrive': {
        const { dlqUrl, queueUrl } = deps.queues;
        if (request.dryRun) return { ...(await previewRedrive(deps.sqs, dlqUrl)), queueUrl };
        const ring = await deps.maskingRing();
        const [dlqArn, queueArn, total] = await Promise.all([
          queueArnOf(deps.sqs, 'SQS', dlqUrl),
          queueArnOf(deps.sqs, 'SQS', queueUrl),
          queueDepth(deps.sqs, dlqUrl),
        ]);
        const result = await redrive(
          deps.sqs,
          { dlqUrl, dlqArn, queueUrl, queueArn },
          { sign: (id) => signMarker(ring.current, id) },
        );
        return { ...result, total, queueUrl };
      }
      case 'forget': {
        const { userId, reason, deleteDeadLetters } = request;
        const masking = await deps.maskingRing();
        const where = { pool: deps.pool, sqs: deps.sqs, dlqUrl: deps.queues.dlqUrl };
        // A preview changes nothing and audits nothing; its answer names a token, never the id.
        if (request.dryRun)
          return previewForget(where, masking.current, { userId, deleteDeadLetters });
        const result = await forgetUser(where, masking.current, {
          userId,
          reason,
          operator: caller,
          deleteDeadLetters,
        });
        // The function's log: the audit row's content (the token, never the id).
        deps.audit({ audit: 'forget', ...result, reason });
        return result;
      }
    }
  };

  /** `functionArn`: the invoked function's, from the Lambda context (never from the event). */
  return async (event: OperationsEvent, functionArn: string): Promise<OperationsResponse> => {
    let caller: string | undefined;
    let command: string | undefined;
    const envelope = envelopeOf(event);
    try {
      // Who asks before what is asked: a caller without a good proof learns nothing more.
      const proof = proofOf(envelope.proof);
      const requestText = requestTextOf(envelope);
      caller = await deps.verifyCaller(proof, requestText, functionArn);
      const request = parseRequest(requestText, event.requestContext?.http?.method);
      command = request.command;
      return reply(200, await perform(request, caller));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const status = STATUS[failure.name];
      const asked = claimed(envelope);
      if (asked.command === 'unmask' || failure instanceof UnauthenticatedError) {
        deps.audit({
          audit: asked.command ?? 'operations',
          at: new Date().toISOString(),
          operator:
            caller ??
            (failure instanceof UnauthenticatedError ? failure.caller : undefined) ??
            'unverified',
          token: asked.token,
          reason: asked.reason,
          outcome: 'refused',
          error: failure.message,
        });
      }
      if (status !== undefined) return reply(status, { error: failure.message });
      deps.onFailure(command ?? asked.command, failure);
      return reply(500, {
        error: `the operation failed (${failure.name}); see the function's log`,
      });
    }
  };
}
