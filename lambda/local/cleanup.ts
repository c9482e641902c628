/**
 * Cleanups that must run however a local run ends, Ctrl-C included: temporary PostgreSQL
 * clusters and the temporary keys file (key material must not be left in /tmp).
 */
const pending = new Set<() => Promise<void>>();

/** Registers `fn` until it has run (or the returned function unregisters it). */
export function onCleanup(fn: () => Promise<void>): () => void {
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}

/** Runs every registered cleanup once, newest first; a failing one does not stop the others. */
export async function runCleanups(): Promise<void> {
  for (const fn of [...pending].reverse()) {
    pending.delete(fn);
    await fn().catch(() => {});
  }
}
