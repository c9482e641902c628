/**
 * What the operations function accepts: a function URL request (POST) whose JSON body holds
 * the operation as JSON text and a caller proof (caller-proof.ts). Pure: parses, never performs.
 */
import { RequestError } from '../core/errors';

/** The operations the function performs, one per request. */
export type OperationRequest =
  | { readonly command: 'unmask'; readonly token: string; readonly reason: string }
  | { readonly command: 'rekey'; readonly batchSize: number; readonly dryRun?: boolean }
  | { readonly command: 'dlq-peek' }
  | { readonly command: 'redrive'; readonly dryRun?: boolean }
  | {
      readonly command: 'forget';
      readonly userId: string;
      readonly reason: string;
      readonly deleteDeadLetters: boolean;
      /** Say what would be erased; change and audit nothing. */
      readonly dryRun?: boolean;
    };

/** The parts of a function URL event this function reads (aws-lambda's types, narrowed). */
export interface OperationsEvent {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}

/** What a request body carries, unchecked: the operation as JSON text, and the caller proof. */
export interface Envelope {
  readonly request?: unknown;
  readonly proof?: unknown;
}

/** The body of a function URL event as text (decoded when Lambda sent it base64). */
export const bodyText = (event: OperationsEvent): string =>
  event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
    : (event.body ?? '');

/**
 * The envelope a request body holds: `{"request": "<operation JSON>", "proof": {...}}`.
 * Never throws: a body that is not one gives an empty envelope (and so no proof).
 */
export function envelopeOf(event: OperationsEvent): Envelope {
  try {
    const parsed: unknown = JSON.parse(bodyText(event));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Envelope) : {};
  } catch {
    return {};
  }
}

/** The operation's JSON text, exactly as sent (the proof signs its hash). Throws RequestError. */
export function requestTextOf(envelope: Envelope): string {
  if (typeof envelope.request !== 'string')
    throw new RequestError('"request" is required: the operation as JSON text');
  return envelope.request;
}

/** Whether `text` holds `word` with no letter or digit right before or after it. */
export function containsWord(text: string, word: string, flags = 'u'): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|[^\\p{L}\\p{N}])${escaped}(?:$|[^\\p{L}\\p{N}])`, flags).test(text);
}

/**
 * Why a forget request cannot run, or undefined. Pure; never repeats the values. The reason is
 * kept in clear, so it may not hold the id as a word of its own, in any case (which would undo
 * the token).
 */
export function forgetInputProblem(userId: string, reason: string): string | undefined {
  const id = userId.trim();
  if (id === '') return 'a user id is required';
  if (reason.trim() === '') return 'a reason is required';
  // Case-insensitive: "Alice" in a reason names the user "alice" as well as "Alice".
  if (containsWord(reason, id, 'iu'))
    return 'the reason must not contain the user id (the audit keeps the reason in clear)';
  return undefined;
}

/** `dryRun`: say what the command would do and change nothing; false when absent. */
const dryRunOf = (fields: Record<string, unknown>): boolean => {
  const value = fields.dryRun ?? false;
  if (typeof value !== 'boolean') throw new RequestError('"dryRun" must be true or false');
  return value;
};

const text = (value: unknown, field: string): string => {
  if (typeof value !== 'string' || value.trim() === '')
    throw new RequestError(`"${field}" is required (a non-empty string)`);
  return value;
};

/**
 * Parses the operation (`requestText`) of a request sent with `method`. Throws RequestError
 * naming the problem (never echoing values).
 */
export function parseRequest(requestText: string, method?: string): OperationRequest {
  if (method !== undefined && method !== 'POST')
    throw new RequestError(`use POST with a JSON body, not ${method}`);
  let body: unknown;
  try {
    body = JSON.parse(requestText);
  } catch {
    throw new RequestError('the body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new RequestError('the body must be a JSON object with a "command"');
  const fields = body as Record<string, unknown>;
  switch (fields.command) {
    case 'unmask':
      return {
        command: 'unmask',
        token: text(fields.token, 'token'),
        reason: text(fields.reason, 'reason'),
      };
    case 'rekey': {
      const size = fields.batchSize ?? 1000;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 100_000)
        throw new RequestError('"batchSize" must be an integer from 1 to 100000');
      return { command: 'rekey', batchSize: size, dryRun: dryRunOf(fields) };
    }
    case 'dlq-peek':
      return { command: 'dlq-peek' };
    case 'redrive':
      return { command: 'redrive', dryRun: dryRunOf(fields) };
    case 'forget': {
      const userId = text(fields.userId, 'userId');
      const reason = text(fields.reason, 'reason');
      const problem = forgetInputProblem(userId, reason);
      if (problem !== undefined) throw new RequestError(problem);
      const deleteDeadLetters = fields.deleteDeadLetters ?? false;
      if (typeof deleteDeadLetters !== 'boolean')
        throw new RequestError('"deleteDeadLetters" must be true or false');
      return { command: 'forget', userId, reason, deleteDeadLetters, dryRun: dryRunOf(fields) };
    }
    default:
      throw new RequestError('"command" must be one of unmask, rekey, dlq-peek, redrive, forget');
  }
}
