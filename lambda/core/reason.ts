/**
 * The reason an error gives, for one-line messages that name what failed. Pure.
 */

/** The reason an error gives, for a one-line message: its message, else its code or name. */
export function reasonOf(error: unknown): string {
  const { message, code, name } = (error ?? {}) as {
    message?: string;
    code?: string;
    name?: string;
  };
  const errors = (error as { errors?: unknown[] } | null)?.errors;
  // Node reports a refused dual-stack connect as an AggregateError with an empty message.
  if (!message && Array.isArray(errors) && errors.length > 0) return reasonOf(errors[0]);
  return message || code || name || String(error);
}
