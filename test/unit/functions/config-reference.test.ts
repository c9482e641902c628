import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Env, LibraryEnv } from '../../../lambda/contract/env';

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** The configuration reference. */
function reference(): { readonly path: string; readonly text: string } {
  const path = 'docs/reference/configuration.md';
  return { path, text: read(path) };
}

/** Every variable named in backticks in the first column of a table row. */
function tabulated(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const line of markdown.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line.trim())?.[1] ?? '';
    for (const [, name] of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(name as string);
  }
  return names;
}

const config = read('lambda/functions/config.ts');
const contract = new Set<string>(Object.values(Env));
const library = new Set<string>(Object.values(LibraryEnv));

describe('the configuration reference', () => {
  it('lists every variable config.ts reads', () => {
    // Arrange
    const { path, text } = reference();
    const listed = tabulated(text);

    // Act
    const missing = [...contract].filter((name) => !listed.has(name));

    // Assert
    expect(missing, `add these to the table of ${path}`).toEqual([]);
  });

  it('lists nothing that neither config.ts nor a library it configures reads', () => {
    const { path, text } = reference();
    const unknown = [...tabulated(text)].filter(
      (name) => !contract.has(name) && !library.has(name),
    );
    expect(unknown, `not read by config.ts (lambda/contract/env.ts) in ${path}`).toEqual([]);
  });
});

describe('config.ts', () => {
  it('reads every variable of the contract, by its constant', () => {
    const used = new Set([...config.matchAll(/\bEnv\.([A-Z][A-Z0-9_]*)\b/g)].map(([, k]) => k));
    expect([...used].sort()).toEqual(Object.keys(Env).sort());
  });

  it('reads no variable outside the contract: no name written as a string of its own', () => {
    // A quoted name, or process.env.X / env.X / env['X'], would bypass the contract.
    const literals = [...config.matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g)];
    const direct = [...config.matchAll(/\benv(?:\.[A-Z_]|\[\s*['"`])/g)];
    expect(literals.map(([text]) => text)).toEqual([]);
    expect(direct.map(([text]) => text)).toEqual([]);
  });
});
