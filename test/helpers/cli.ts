/**
 * Running the project's commands as a user does, in a child process with a clean
 * environment: only PATH, HOME and what the test passes.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// By URL, so that commands run from another working directory still find it.
const TSX = pathToFileURL(createRequire(`${ROOT}package.json`).resolve('tsx')).href;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The npm scripts that run one of our TypeScript commands: name -> [file, ...fixed args]. */
export function commandScripts(): Record<string, string[]> {
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    scripts: Record<string, string>;
  };
  const commands: Record<string, string[]> = {};
  for (const [name, line] of Object.entries(scripts)) {
    // `tsx FILE` or `node --import tsx FILE` (tsx's own process would stand between a
    // signal and the command, and kill a command that is slow to answer it).
    const [file, ...args] = line
      .replace(/^node --import tsx /, 'tsx ')
      .split(' ')
      .slice(1);
    if (/^(node --import )?tsx lambda\//.test(line) && file !== undefined)
      commands[name] = [file, ...args];
  }
  return commands;
}

/** A clean environment: PATH and HOME, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

function argsOf(script: string, args: readonly string[]): string[] {
  const command = commandScripts()[script];
  if (command === undefined) throw new Error(`no npm script "${script}" runs a command`);
  const [file, ...fixed] = command;
  return ['--import', TSX, `${ROOT}${file}`, ...fixed, ...args];
}

/** Runs `npm run <script> -- <args>` the way npm would (node + tsx), never rejecting. */
export function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string> = cleanEnv(),
  cwd = ROOT,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argsOf(script, args),
      { env, cwd, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Starts a long-running script; the caller reads its streams and stops it. With `group`, in a
 * process group of its own, as a terminal runs it: a signal to the group reaches its children.
 */
export function spawnScript(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  group = false,
): ChildProcess {
  return spawn(process.execPath, argsOf(script, args), { env, cwd: ROOT, detached: group });
}

/** Resolves with everything `stream` printed once `done(text)` holds; rejects after `ms`. */
export function readUntil(
  stream: NodeJS.ReadableStream,
  done: (text: string) => boolean,
  ms = 180_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out; got:\n${text}`)), ms);
    stream.on('data', (chunk) => {
      text += String(chunk);
      if (done(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

/**
 * The variables an `export …` line printed by `npm start --keep` sets, as a shell pasting it
 * gets them (values may read files: `DATABASE_URL="$(cat '/tmp/…/url')"`).
 */
export function parseExportLine(
  line: string,
  env: Record<string, string> = {},
): Record<string, string> {
  const names = [...line.matchAll(/\s(\w+)=/g)].map((match) => match[1] as string);
  const script = `${line.trim()}\nnode -e 'process.stdout.write(JSON.stringify(process.env))'`;
  const all = JSON.parse(
    execFileSync('sh', ['-c', script], { env: cleanEnv(env), encoding: 'utf8' }),
  ) as Record<string, string>;
  return Object.fromEntries(names.map((name) => [name, all[name] ?? '']));
}
