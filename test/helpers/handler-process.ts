/**
 * A Lambda "container" in a process of its own, for settings Node reads only at process
 * start (NODE_EXTRA_CA_CERTS): loads the shipped handler bundle with this process's
 * environment, handles the one event it is sent, and sends back the response and log lines.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadBundle, localContext } from '../../lambda/local/bundle';

// Set in the child only: the test runner's workers have an IPC channel too.
const CHILD = 'LOGIN_QUEUE_HANDLER_PROCESS';

export interface HandlerProcessResult {
  /** The handler's response, or undefined when the invocation failed (see `error`). */
  readonly response: SQSBatchResponse | undefined;
  /** What the invocation threw, if it did. */
  readonly error?: { readonly name: string; readonly message: string };
  /** The handler's JSON log lines, parsed. */
  readonly logs: readonly Record<string, unknown>[];
}

/** Runs `event` through the bundle in a child process with exactly `env`. */
export function runHandlerProcess(
  env: Record<string, string>,
  event: SQSEvent,
): Promise<HandlerProcessResult> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...env, [CHILD]: '1' },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as HandlerProcessResult));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`handler process exited with ${code}`)));
    child.send(event);
  });
}

if (process.env[CHILD] === '1') {
  process.once('message', async (event: SQSEvent) => {
    const lines: string[] = [];
    // Powertools writes JSON lines to stdout (and warnings and errors to stderr).
    for (const stream of [process.stdout, process.stderr]) {
      stream.write = ((chunk: unknown) => {
        lines.push(
          ...String(chunk)
            .split('\n')
            .filter((line) => line.startsWith('{')),
        );
        return true;
      }) as typeof stream.write;
    }
    const outcome = await loadBundle({})(event, localContext()).then(
      (response) => ({ response }),
      (error: Error) => ({
        response: undefined,
        error: { name: error.name, message: error.message },
      }),
    );
    const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    process.send?.({ ...outcome, logs } satisfies HandlerProcessResult, () => process.exit(0));
  });
}
