/**
 * The one description of how the Lambda code is bundled. The CDK stack (NodejsFunction) and
 * the local build (`npm run build`, used by tests, `npm start`, `npm run invoke` and the
 * benchmark) both derive their esbuild settings from here, so what runs locally is what ships.
 */
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export const BUNDLE = {
  /** Entry files by function; each becomes dist/<name>/index.js. */
  entries: {
    handler: `${root}lambda/functions/handler.ts`,
    migrate: `${root}lambda/functions/migrate.ts`,
    'secret-init': `${root}lambda/functions/secret-init.ts`,
    ops: `${root}lambda/functions/operations.ts`,
  },
  /** node20 syntax runs unchanged on the nodejs24.x runtime and on the Node 20 used locally. */
  target: 'node20',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  /**
   * ES module builds first: the AWS SDK and Powertools ship both, and esbuild can drop what
   * their ES builds do not use, where their CommonJS builds keep every export (a quarter less
   * bundle, a third less load CPU: docs/performance.md). Output stays CommonJS.
   */
  mainFields: ['module', 'main'],
  /** pg's optional native binding is never installed; without this esbuild fails to resolve it. */
  externalModules: ['pg-native'],
} as const;

export const DIST = `${root}dist`;

/** Path of a built bundle, e.g. bundlePath('handler') -> <root>/dist/handler/index.js. */
export function bundlePath(entry: keyof typeof BUNDLE.entries, dist: string = DIST): string {
  return `${dist}/${entry}/index.js`;
}

/** Path of a bundle's esbuild metafile, written beside it by `npm run build`. */
export function metafilePath(entry: keyof typeof BUNDLE.entries, dist: string = DIST): string {
  return `${dist}/${entry}/meta.json`;
}
