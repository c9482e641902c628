/**
 * Progress lines: done of total, percent, rate and time left, never a total below done.
 */
import { describe, expect, it } from 'vitest';
import { progressLine, progressReporter } from '../../lambda/ops/progress';

describe('progressLine', () => {
  it('shows done of total, percent, rate and the time left', () => {
    expect(progressLine({ done: 5_000, total: 20_000, elapsedMs: 2_000 }, 'messages')).toBe(
      '5,000 / 20,000 messages (25 %)  2,500/s  about 6 s left',
    );
  });

  it('says done at the end, and never shows a total below what is done', () => {
    expect(progressLine({ done: 120, total: 100, elapsedMs: 1_000 }, 'rows')).toBe(
      '120 / 120 rows (100 %)  120/s  done',
    );
    expect(progressLine({ done: 0, total: 0, elapsedMs: 0 }, 'rows')).toBe(
      '0 / 0 rows (100 %)  0/s  done',
    );
  });

  it('gives minutes for long waits and "?" before any rate is known', () => {
    expect(progressLine({ done: 100, total: 100_000, elapsedMs: 1_000 }, 'rows')).toContain(
      'about 16 min 39 s left',
    );
    expect(progressLine({ done: 0, total: 10, elapsedMs: 0 }, 'rows')).toContain('about ? left');
  });
});

describe('progressReporter', () => {
  it('prints the first line at once and at most one a second after it, unless forced', () => {
    // Arrange
    const written: string[] = [];
    const reporter = progressReporter((text) => written.push(text), false);
    // Act
    reporter.show('a');
    reporter.show('b');
    reporter.show('c', true);
    reporter.end();
    // Assert
    expect(written).toEqual(['a\n', 'c\n']);
  });

  it('rewrites one line in place on a terminal and ends it with a newline', () => {
    const written: string[] = [];
    const reporter = progressReporter((text) => written.push(text), true);
    reporter.show('a');
    reporter.end();
    expect(written).toEqual(['\ra\x1b[K', '\n']);
  });
});
