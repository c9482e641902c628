/**
 * `npm run build`: bundles every Lambda entry with the settings of bundling.ts into dist/.
 * Prints each bundle's size.
 */
import { statSync } from 'node:fs';
import { build } from 'esbuild';
import { BUNDLE, bundlePath } from './bundling';

/** Builds all bundles; resolves to their paths. Throws on any esbuild error. */
export async function buildBundles(): Promise<string[]> {
  const entries = Object.entries(BUNDLE.entries) as [keyof typeof BUNDLE.entries, string][];
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
