import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../lambda/cli/command';
import { UsageError } from '../../../lambda/core/errors';

const parse = (args: string[]) => {
  const argv = process.argv;
  process.argv = ['node', 'start.ts', ...args];
  try {
    return parseCommandLine('Usage: npm start', {
      options: { messages: { type: 'string' }, 'keys-file': { type: 'string' } },
    });
  } finally {
    process.argv = argv;
  }
};

describe('parseCommandLine', () => {
  it.each([[['--messages', '-1']], [['--messages', '--keys-file', 'x']]])(
    'says a value is missing, and how to give one with a dash, for %j',
    (args) => {
      expect(() => parse(args)).toThrow(
        new UsageError(
          '--messages needs a value (for one that starts with a dash, write --messages=-1)',
        ),
      );
    },
  );

  it('keeps the first line of any other parse error', () => {
    expect(() => parse(['--nope'])).toThrow(UsageError);
    expect(() => parse(['--nope'])).toThrow(/^Unknown option '--nope'/);
  });

  it('reads a value given with an equals sign', () => {
    expect(parse(['--messages=-1'])?.values.messages).toBe('-1');
  });
});
