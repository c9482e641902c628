/**
 * What a benchmark run undoes however it ends (its last step, a thrown error, an uncaught one,
 * Ctrl-C or SIGTERM): pools, databases, services, and the embedded server with its data
 * directory, which holds hundreds of MB once filled.
 */
import { runCleanups } from '../../lambda/local/cleanup';
import { releaseSignal } from '../../lambda/local/postgres';

export interface Teardown {
  /** Registers `undo(value)` to run at teardown; returns `value`. */
  add<T>(value: T, undo: (value: T) => Promise<unknown>): T;
  /** Runs every step once, newest first; a failing step is reported and the others still run. */
  run(): Promise<void>;
}

/**
 * A teardown for the command `name`. A signal or an uncaught error runs it (and what
 * startLocalPostgres registered while starting), then exits 130 or 1.
 */
export function benchTeardown(name: string): Teardown {
  const steps: (() => Promise<unknown>)[] = [];
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= (async () => {
      for (const step of steps.reverse()) {
        await step().catch((error: unknown) => {
          process.stderr.write(`${name}: cleanup failed: ${(error as Error)?.message ?? error}\n`);
        });
      }
    })();
    return running;
  };
  let exiting = false;
  const exit = (code: number) => () => {
    if (exiting) return;
    exiting = true;
    void run()
      .then(runCleanups)
      .finally(() => process.exit(code));
  };
  // Ours, not the embedded server's exit hook: it would stop the server and leave the rest.
  // `on`, not `once`: a second Ctrl-C during the cleanup must not kill it halfway.
  releaseSignal('SIGINT');
  releaseSignal('SIGTERM');
  process.on('SIGINT', exit(130));
  process.on('SIGTERM', exit(130));
  process.on('uncaughtException', (error) => {
    process.stderr.write(`${name} failed: ${error.stack ?? error.message}\n`);
    exit(1)();
  });
  return {
    add(value, undo) {
      steps.push(() => undo(value));
      return value;
    },
    run,
  };
}
