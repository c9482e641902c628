/**
 * Progress lines: done of total, percent, rate and time left, never a total below done.
 */
import { describe, expect, it } from 'vitest';
import { countProgress, progressLine, progressReporter } from '../../../lambda/cli/progress';

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

describe('countProgress', () => {
  it('prints a count once: nothing to do is one line, and a last batch already shown is not repeated', () => {
    // Arrange
    const written: string[] = [];
    const none = countProgress(
      0,
      'rows',
      progressReporter((text) => written.push(text), false),
    );
    // Act: what rekey does with no row to re-key: the first line, then the final one.
    none.show(0, true);
    none.show(0, true);
    // Assert
    expect(written).toHaveLength(1);
    expect(written[0]).toContain('0 / 0 rows (100 %)');
  });

  it('still prints the final count when the same count was held back by the rate limit', () => {
    const written: string[] = [];
    const progress = countProgress(
      20,
      'rows',
      progressReporter((text) => written.push(text), false),
    );
    progress.show(0, true);
    progress.show(20);
    progress.show(20, true);
    expect(written.map((line) => line.trim().split('  ')[0])).toEqual([
      '0 / 20 rows (0 %)',
      '20 / 20 rows (100 %)',
    ]);
  });
});
