/**
 * Cleanups that must run however a local run ends, Ctrl-C included: the services, temporary
 * PostgreSQL clusters and the temporary keys file (key material must not be left in /tmp).
 */
const pending = new Set<() => Promise<void>>();

/** Registers `fn` until it has run (or the returned function unregisters it). */
export function onCleanup(fn: () => Promise<void>): () => void {
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}

/**
 * Runs every registered cleanup once, newest first, including any registered while it runs;
 * a failing one does not stop the others. Resolves to the errors of those that failed.
 */
export async function runCleanups(): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (let fn = newest(); fn !== undefined; fn = newest()) {
    pending.delete(fn);
    await fn().catch((error: unknown) => failures.push(error));
  }
  return failures;
}

function newest(): (() => Promise<void>) | undefined {
  return [...pending].pop();
}

/**
 * Calls `onSignal` on the first SIGINT or SIGTERM and absorbs the ones after it: a terminal's
 * Ctrl-C reaches the process more than once (directly, and forwarded by npm), and a signal
 * with no listener would end the process before its cleanup. Returns the function that
 * removes the listeners.
 */
export function onInterrupt(onSignal: (signal: NodeJS.Signals) => void): () => void {
  let received = false;
  const listener = (signal: NodeJS.Signals) => {
    if (received) return;
    received = true;
    onSignal(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
