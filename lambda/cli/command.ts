/**
 * How the project's command-line tools behave, the same for every one: `--help` (or `-h`) on
 * stdout with exit 0; a usage mistake is one line on stderr and exit 2; any other failure
 * is one line (the error's message, which names the service and address when one failed)
 * and exit 1.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { LoginQueueError, UsageError } from '../core/errors';
import { redactPasswords } from '../core/redact';

/**
 * Parses the command line strictly (unknown flags and missing values are usage errors).
 * Returns undefined after printing `help` on stdout when --help was given.
 */
export function parseCommandLine<T extends ParseArgsConfig>(
  help: string,
  config: T,
): ReturnType<typeof parseArgs<T>> | undefined {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs({
      ...config,
      options: { ...config.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    } as T);
  } catch (error) {
    // node's messages carry advice about positionals, on a second line or (in some releases)
    // after the first sentence ("… To specify a positional argument …, as in '-- "--x"'").
    const first = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    const message = first.replace(/\.? To specify a positional argument.*$/, '');
    // "--messages -1" and "--messages --keys-file x" both read as a missing value.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message)?.[1];
    if (ambiguous !== undefined) {
      throw new UsageError(
        `${ambiguous} needs a value (for one that starts with a dash, write ${ambiguous}=-1)`,
        { cause: error },
      );
    }
    throw new UsageError(message, { cause: error });
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help.endsWith('\n') ? help : `${help}\n`);
    return undefined;
  }
  return parsed;
}

/** An integer flag within [min, max]; `fallback` when absent. Throws UsageError naming flag and range. */
export function integerFlag(
  raw: string | undefined,
  flag: string,
  range: { readonly min: number; readonly max: number; readonly fallback: number },
): number {
  if (raw === undefined) return range.fallback;
  const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new UsageError(
      `--${flag} must be an integer from ${range.min} to ${range.max}, got "${raw}"`,
    );
  }
  return value;
}

/** A flag that must be given. Throws UsageError naming it and its environment variable. */
export function requiredFlag(value: string | undefined, flag: string, envName?: string): string {
  if (value !== undefined && value.trim() !== '') return value;
  throw new UsageError(`--${flag}${envName ? ` (or ${envName})` : ''} is required`);
}

/**
 * Runs a command and exits with the number it resolves to. UsageError: one line and exit 2;
 * any other error: one line and exit 1 (the stack too, with `stack`, for errors that are not
 * the project's named ones, such as a handler that threw).
 */
export function runCommand(
  name: string,
  command: () => Promise<number>,
  options: { stack?: boolean } = {},
): void {
  // The SDK warns on Node 20 that its releases from 2027 will need Node 22; this project
  // supports Node 20 (engines, .nvmrc) with a pinned SDK, so the notice is noise here.
  // AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true is the SDK's documented switch
  // (aws/aws-sdk-js-v3#7983); a value the user set wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  command().then(
    (code) => process.exit(code),
    (error: unknown) => {
      // A URL in an error keeps its host and loses its password.
      if (error instanceof UsageError) {
        process.stderr.write(redactPasswords(`${name}: ${error.message} (see --help)\n`));
        process.exit(2);
      }
      const text =
        error instanceof Error
          ? (options.stack && !(error instanceof LoginQueueError) && error.stack) || error.message
          : String(error);
      process.stderr.write(redactPasswords(`${name} failed: ${text}\n`));
      process.exit(1);
    },
  );
}
