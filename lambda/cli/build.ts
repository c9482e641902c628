/**
 * `npm run build`: bundles every Lambda entry with the settings of bundling.ts into dist/,
 * each with esbuild's metafile beside it (meta.json: every input file and what it kept).
 * Prints each bundle's size.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { BUNDLE, bundlePath, DIST, metafilePath } from '../contract/bundling';
import { parseCommandLine, runCommand } from './command';

const HELP = `Usage: npm run build

Bundles each Lambda function (handler, migrate, secret-init, ops) with esbuild into
dist/<function>/index.js, as the CDK app bundles them, with esbuild's metafile beside each
(meta.json). Prints each bundle's size.

  -h, --help     this text
`;

/** Builds all bundles into `dist`; resolves to their paths. Throws on any esbuild error. */
export async function buildBundles(dist: string = DIST): Promise<string[]> {
  const entries = Object.entries(BUNDLE.entries) as [keyof typeof BUNDLE.entries, string][];
  // The bundles are CommonJS, as in the Lambda asset; this repo's package.json says "module".
  mkdirSync(dist, { recursive: true });
  writeFileSync(`${dist}/package.json`, '{ "type": "commonjs" }\n');
  return Promise.all(
    entries.map(async ([name, entry]) => {
      const outfile = bundlePath(name, dist);
      const { metafile } = await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: BUNDLE.target,
        mainFields: [...BUNDLE.mainFields],
        minify: BUNDLE.minify,
        sourcemap: BUNDLE.sourceMap,
        sourcesContent: BUNDLE.sourcesContent,
        external: [...BUNDLE.externalModules],
        metafile: true,
        logLevel: 'warning',
      });
      writeFileSync(metafilePath(name, dist), JSON.stringify(metafile));
      return outfile;
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand('build', async () => {
    if (parseCommandLine(HELP, { options: {} }) === undefined) return 0;
    for (const file of await buildBundles()) {
      process.stdout.write(`${file}  ${(statSync(file).size / 1024).toFixed(0)} KiB\n`);
    }
    return 0;
  });
}
