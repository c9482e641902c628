/**
 * The benchmark's teardown, in a process of its own (it takes over the signals and uncaught
 * errors of the process it runs in): whatever ends the run, what it set up is undone.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TEARDOWN = fileURLToPath(new URL('../../bench/teardown.ts', import.meta.url));

/**
 * Runs a bench-like script: a directory standing for the embedded data directory, removed by
 * a teardown step, beside a step that fails; then `end` (script text) ends the run.
 */
function runBench(end: string, signal?: NodeJS.Signals) {
  const dir = mkdtempSync(join(tmpdir(), 'login-queue-bench-teardown-'));
  const script = `
    import { rm } from 'node:fs/promises';
    import { benchTeardown } from ${JSON.stringify(TEARDOWN)};
    const teardown = benchTeardown('bench');
    teardown.add(${JSON.stringify(dir)}, (dir) => rm(dir, { recursive: true }));
    teardown.add(undefined, async () => { throw new Error('pool already ended'); });
    teardown.add('pool', async (name) => console.log('closed', name));
    console.log('ready');
    ${end}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    const waiting = !stdout.includes('ready\n');
    stdout += String(chunk);
    // Twice, as an impatient user does: the second must not cut the cleanup short.
    if (signal && waiting && stdout.includes('ready\n')) {
      child.kill(signal);
      child.kill(signal);
    }
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string; dir: string }>(
    (resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr, dir })),
  );
}

// Each test starts node with tsx: seconds on a busy machine.
describe('the benchmark teardown', { timeout: 60_000 }, () => {
  it('runs every step once, newest first, and reports a failing step without skipping the rest', async () => {
    const run = await runBench('await teardown.run(); await teardown.run(); console.log("end");');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('ready\nclosed pool\nend\n');
    expect(run.stderr).toBe('bench: cleanup failed: pool already ended\n');
    expect(existsSync(run.dir)).toBe(false);
  });

  it('on Ctrl-C (SIGINT) removes what the run set up and exits 130', async () => {
    const run = await runBench('setInterval(() => {}, 1000);', 'SIGINT');
    expect(run.code).toBe(130);
    expect(run.stdout).toBe('ready\nclosed pool\n');
    expect(existsSync(run.dir)).toBe(false);
  });

  it('on an uncaught error (as an unhandled pool error was) removes what the run set up and exits 1', async () => {
    const run = await runBench(
      "setTimeout(() => { throw Object.assign(new Error('terminating connection'), { code: '57P01' }); });",
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^bench failed: Error: terminating connection\n/);
    expect(run.stdout).toBe('ready\nclosed pool\n');
    expect(existsSync(run.dir)).toBe(false);
  });
});
