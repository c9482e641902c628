/**
 * How the project's command-line tools end: the command's resolved number is the exit code;
 * an error prints one line (or its stack, with `stack`) on stderr and exits 1.
 */
export function runCommand(
  name: string,
  command: () => Promise<number>,
  options: { stack?: boolean } = {},
): void {
  command().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const text =
        error instanceof Error ? (options.stack && error.stack) || error.message : String(error);
      process.stderr.write(`${name} failed: ${text}\n`);
      process.exit(1);
    },
  );
}
