/**
 * Parsing and validation of one SQS body into a typed login event (pure).
 *
 * Rules: a JSON object; `user_id` (<= 128 chars), `device_type` (<= 32), `ip` (IPv4/IPv6),
 * `device_id` (non-empty, <= 256), `app_version` (numeric dot-separated, see version.ts) are
 * required strings; `locale` (<= 32) may be null or missing. Strings are trimmed; unknown
 * fields are ignored; a lone surrogate (invalid Unicode) makes a field invalid. Lengths
 * count Unicode code points, as PostgreSQL varchar(n) does.
 * A rejection carries a reason code `<field>.<problem>` and a detail that never holds a value.
 */
import { canonicalDeviceId, canonicalIp } from './masking';
import { encodeVersion } from './version';

export interface LoginEvent {
  readonly userId: string;
  readonly deviceType: string;
  /** Canonical ip (see masking.canonicalIp): PII, never log. */
  readonly ip: string;
  /** Canonical device id: PII, never log. */
  readonly deviceId: string;
  readonly locale: string | null;
  readonly appVersion: number;
  readonly appVersionRaw: string;
}

export const Problem = {
  NotJson: 'not_json',
  NotObject: 'not_object',
  Missing: 'missing',
  WrongType: 'wrong_type',
  TooLong: 'too_long',
  Invalid: 'invalid',
} as const;
export type Problem = (typeof Problem)[keyof typeof Problem];

export interface Rejection {
  /** Machine-readable: "body.not_json", "ip.invalid", "user_id.missing", … */
  readonly reason: string;
  /** Human-readable, free of the rejected value. */
  readonly detail: string;
}

export type ParseResult =
  | { readonly ok: true; readonly event: LoginEvent }
  | { readonly ok: false; readonly rejection: Rejection };

class Reject {
  constructor(readonly rejection: Rejection) {}
}

function reject(field: string, problem: Problem, detail: string): never {
  throw new Reject({ reason: `${field}.${problem}`, detail });
}

// Strings with U+0000 cannot be stored in PostgreSQL text.
const NUL = '\u0000';

// A lone UTF-16 surrogate (JSON allows "\ud800") is not Unicode: PostgreSQL and HMAC input
// would both see U+FFFD, so different ids would share one token. (String.isWellFormed is in
// Node 20; the typing needs lib ES2024.)
const wellFormed = (value: string) =>
  (value as unknown as { isWellFormed(): boolean }).isWellFormed();

function text(body: Record<string, unknown>, field: string, max: number): string;
function text(
  body: Record<string, unknown>,
  field: string,
  max: number,
  optional: true,
): string | null;
function text(body: Record<string, unknown>, field: string, max: number, optional = false) {
  const value = body[field];
  if (value === undefined || value === null) {
    return optional ? null : reject(field, Problem.Missing, `${field} is required`);
  }
  if (typeof value !== 'string')
    return reject(field, Problem.WrongType, `${field} must be a string`);
  const trimmed = value.trim();
  if (trimmed.length === 0) {
    return optional ? null : reject(field, Problem.Missing, `${field} is empty`);
  }
  if (trimmed.includes(NUL)) return reject(field, Problem.Invalid, `${field} contains U+0000`);
  if (!wellFormed(trimmed)) {
    return reject(field, Problem.Invalid, `${field} is not valid Unicode (a lone surrogate)`);
  }
  // Code points, not UTF-16 units; the fast path skips the count for short strings.
  if (trimmed.length > max && [...trimmed].length > max) {
    return reject(field, Problem.TooLong, `${field} is longer than ${max} characters`);
  }
  return trimmed;
}

function parseObject(body: Record<string, unknown>): LoginEvent {
  const userId = text(body, 'user_id', 128);
  const deviceType = text(body, 'device_type', 32);
  const ip = canonicalIp(text(body, 'ip', 64));
  if (ip === undefined) reject('ip', Problem.Invalid, 'ip is not an IPv4 or IPv6 address');
  const deviceId = canonicalDeviceId(text(body, 'device_id', 256));
  if (deviceId === undefined) reject('device_id', Problem.Missing, 'device_id is empty');
  const appVersionRaw = text(body, 'app_version', 32);
  const appVersion = encodeVersion(appVersionRaw);
  if (appVersion === undefined) {
    reject(
      'app_version',
      Problem.Invalid,
      'app_version must be major[.minor[.patch]], minor/patch <= 999',
    );
  }
  const locale = text(body, 'locale', 32, true);
  return {
    userId,
    deviceType,
    ip,
    deviceId,
    locale,
    appVersion,
    appVersionRaw,
  };
}

/** Parses one SQS message body. Never throws: every outcome is a ParseResult. */
export function parseLoginEvent(body: string): ParseResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, rejection: { reason: 'body.not_json', detail: 'body is not valid JSON' } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      ok: false,
      rejection: { reason: 'body.not_object', detail: 'body is not a JSON object' },
    };
  }
  try {
    return { ok: true, event: parseObject(parsed as Record<string, unknown>) };
  } catch (error) {
    if (error instanceof Reject) return { ok: false, rejection: error.rejection };
    throw error;
  }
}
