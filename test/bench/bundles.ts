/**
 * `npm run bench:bundles`: each Lambda bundle's size, gzip size and module-load CPU (the CPU
 * time of `import()` of the bundle, which is the cold start's init of its top level), median
 * of several fresh processes, optionally on another Node.js binary (e.g. the runtime's 24).
 * Prints a Markdown table on stdout.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildBundles } from '../../lambda/cli/build';
import { integerFlag, parseCommandLine, runCommand } from '../../lambda/cli/command';
import { BUNDLE, DIST } from '../../lambda/contract/bundling';

const run = promisify(execFile);

// Enough for every function's top level to build its clients and pools (none connects at load).
const LOAD_ENV = {
  AWS_REGION: 'us-east-1',
  DATABASE_URL: 'postgres://bench@127.0.0.1:9/bench',
  MASKING_SECRET_ID: 'bench-masking',
  RECOVERY_SECRET_ID: 'bench-recovery',
  DLQ_URL: 'http://127.0.0.1:9/000000000000/bench-dlq',
  SOURCE_QUEUE_URL: 'http://127.0.0.1:9/000000000000/bench',
  OPERATOR_ROLE_ARN: 'arn:aws:iam::000000000000:role/bench-operator',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

// CPU (user + system) of the import alone, not of node's own start-up.
const CHILD = `
const before = process.cpuUsage();
await import(process.env.BENCH_BUNDLE_URL);
const { user, system } = process.cpuUsage(before);
process.stdout.write(\`\\nload-cpu-ms \${(user + system) / 1000}\\n\`);
process.exit(0);
`;

/** One fresh process's CPU milliseconds for importing `file`. Throws when the import fails. */
async function loadCpuMs(node: string, file: string, flags: readonly string[]): Promise<number> {
  const { stdout } = await run(node, [...flags, '--input-type=module', '-e', CHILD], {
    env: { PATH: process.env.PATH ?? '', ...LOAD_ENV, BENCH_BUNDLE_URL: `file://${file}` },
  }).catch((error: { stderr?: string }) => {
    // Minified classes print as `Ye [ConfigError]: …`.
    const cause =
      /^(?=\w*Error|\w+ \[\w*Error\])\w+(?: \[\w+\])?: .*$/m.exec(error.stderr ?? '')?.[0] ??
      'no error printed';
    throw new Error(`${file} did not load: ${cause}`, { cause: error });
  });
  // The functions log at load (on stdout, as in Lambda); the figure is a line of its own.
  const ms = Number(/^load-cpu-ms (\S+)$/m.exec(stdout)?.[1]);
  if (!Number.isFinite(ms)) throw new Error(`${file}: the load printed "${stdout}"`);
  return ms;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export interface BundleFigures {
  readonly name: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Median CPU ms of the import, plain and with `--enable-source-maps` (as deployed). */
  readonly loadMs: number;
  readonly loadWithSourceMapsMs: number;
}

/** Measures every bundle of bundling.ts found in `dist`; `runs` processes per figure, interleaved. */
export async function measureBundles(
  node: string,
  dist: string,
  runs: number,
): Promise<BundleFigures[]> {
  const names = Object.keys(BUNDLE.entries);
  const plain = new Map(names.map((name) => [name, [] as number[]]));
  const mapped = new Map(names.map((name) => [name, [] as number[]]));
  // Round-robin, so that a noisy moment on a shared machine spreads over every bundle.
  for (let i = 0; i < runs; i++) {
    for (const name of names) {
      const file = `${dist}/${name}/index.js`;
      plain.get(name)?.push(await loadCpuMs(node, file, []));
      mapped.get(name)?.push(await loadCpuMs(node, file, ['--enable-source-maps']));
    }
  }
  return names.map((name) => {
    const file = `${dist}/${name}/index.js`;
    return {
      name,
      bytes: statSync(file).size,
      gzipBytes: gzipSync(readFileSync(file)).length,
      loadMs: median(plain.get(name) ?? []),
      loadWithSourceMapsMs: median(mapped.get(name) ?? []),
    };
  });
}

/** The figures as a Markdown table. */
export function bundleTable(figures: readonly BundleFigures[]): string {
  const kib = (bytes: number) => (bytes / 1024).toFixed(0);
  const rows = figures.map((f) => [
    f.name,
    kib(f.bytes),
    kib(f.gzipBytes),
    f.loadMs.toFixed(0),
    f.loadWithSourceMapsMs.toFixed(0),
  ]);
  const header = ['function', 'KiB', 'gzip KiB', 'load CPU ms', 'with source maps'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)]
    .map((l) => `${l}\n`)
    .join('');
}

const HELP = `Usage: npm run bench:bundles [-- options]

Builds the Lambda bundles (npm run build) and prints, for each, its size, its gzip size and
the CPU time of importing it in a fresh process (median of --runs), plain and with
--enable-source-maps, as the deployed functions run.

Options:
  --node PATH   the Node.js binary to measure with (default: this one)
  --runs N      processes per figure, 1..101 (default 11)
  --dist DIR    measure the bundles already built in DIR instead of building
  -h, --help    this text`;

if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand('bench:bundles', async () => {
    const parsed = parseCommandLine(HELP, {
      options: {
        node: { type: 'string' },
        runs: { type: 'string' },
        dist: { type: 'string' },
      },
    });
    if (parsed === undefined) return 0;
    const { node = process.execPath, dist } = parsed.values;
    const runs = integerFlag(parsed.values.runs, 'runs', { min: 1, max: 101, fallback: 11 });
    if (dist === undefined) await buildBundles();
    const { stdout: version } = await run(node, ['--version']);
    const figures = await measureBundles(node, resolve(dist ?? DIST), runs);
    process.stdout.write(`node ${version.trim()}; median of ${runs} processes\n`);
    process.stdout.write(bundleTable(figures));
    return 0;
  });
}
