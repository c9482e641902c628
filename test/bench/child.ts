/**
 * The benchmark child process, shared by `npm run bench` and its `--scale` part: bundled once
 * and run by plain node with the V8 limits of a Lambda function of a given memory size.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DIST } from '../../lambda/contract/bundling';
import type { ChildRequest, ChildResult } from './handler-child';

const CHILD = `${DIST}/bench/handler-child.mjs`;

/** Bundles the benchmark child so that it runs on plain node, like the Lambda runtime. */
export async function buildChild(): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('./handler-child.ts', import.meta.url))],
    outfile: CHILD,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** The deployed function's memory (infra/function-defaults.ts), for the throughput runs. */
export const FUNCTION_MB = 512;
/** The smallest Lambda, for the peak-memory runs. */
export const SMALLEST_MB = 128;

/**
 * Runs the child with the V8 limits the Lambda runtime's bootstrap sets for `memoryMb` (new
 * space = memory / 10, semi space = new / 2, old space = memory - new), without the
 * TypeScript loader of this process.
 */
export function runChild(request: ChildRequest, memoryMb: number): Promise<ChildResult> {
  const newSpace = Math.floor(memoryMb / 10);
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, {
      execArgv: [
        `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
        `--max-old-space-size=${memoryMb - newSpace}`,
        '--enable-source-maps',
      ],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('message', (result) => resolve(result as ChildResult));
    child.once('exit', (code) => code !== 0 && reject(new Error(`benchmark child exited ${code}`)));
    child.send(request);
  });
}
