/**
 * `npm run build`: bundles every Lambda entry with the settings of bundling.ts into dist/.
 * Prints each bundle's size.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { BUNDLE, bundlePath, DIST } from './bundling';

/** Builds all bundles; resolves to their paths. Throws on any esbuild error. */
export async function buildBundles(): Promise<string[]> {
  const entries = Object.entries(BUNDLE.entries) as [keyof typeof BUNDLE.entries, string][];
  // The bundles are CommonJS, as in the Lambda asset; this repo's package.json says "module".
  mkdirSync(DIST, { recursive: true });
  writeFileSync(`${DIST}/package.json`, '{ "type": "commonjs" }\n');
  return Promise.all(
    entries.map(async ([name, entry]) => {
      const outfile = bundlePath(name);
      await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: BUNDLE.target,
        minify: BUNDLE.minify,
        sourcemap: BUNDLE.sourceMap,
        sourcesContent: BUNDLE.sourcesContent,
        external: [...BUNDLE.externalModules],
        logLevel: 'warning',
      });
      return outfile;
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of await buildBundles()) {
    console.log(`${file}  ${(statSync(file).size / 1024).toFixed(0)} KiB`);
  }
}
