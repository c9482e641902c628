/**
 * Progress lines for long work on stderr: done of total, percent, rate and time left. On a
 * terminal one line is rewritten in place; otherwise a line is printed at most every second.
 */

export interface ProgressCounts {
  readonly done: number;
  /** Best known total; never shown below `done`. */
  readonly total: number;
  readonly elapsedMs: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** "1,200 / 20,000 (6 %)  2,400/s  about 7 s left", from counts alone (pure). */
export function progressLine(counts: ProgressCounts, unit: string): string {
  const total = Math.max(counts.total, counts.done);
  const percent = total === 0 ? 100 : Math.floor((counts.done / total) * 100);
  const rate = counts.elapsedMs > 0 ? (counts.done * 1000) / counts.elapsedMs : 0;
  const left = rate > 0 ? (total - counts.done) / rate : Number.POSITIVE_INFINITY;
  return `${fmt(counts.done)} / ${fmt(total)} ${unit} (${percent} %)  ${fmt(rate)}/s  ${
    counts.done >= total ? 'done' : `about ${duration(left)} left`
  }`;
}

export interface ProgressReporter {
  /** Shows `line` if the last one is old enough (or `force`); whether it showed it. */
  show(line: string, force?: boolean): boolean;
  /** Ends the in-place line on a terminal. */
  end(): void;
}

/** A reporter writing to `write` (stderr by default). */
export function progressReporter(
  write: (text: string) => void = (text) => process.stderr.write(text),
  tty = process.stderr.isTTY === true,
): ProgressReporter {
  let last = 0;
  let shown = false;
  return {
    show(line, force = false) {
      const now = Date.now();
      if (!force && now - last < (tty ? 200 : 1000)) return false;
      last = now;
      shown = true;
      write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      return true;
    },
    end() {
      if (tty && shown) write('\n');
    },
  };
}

/**
 * Progress of `total` things of `unit` on stderr, timed from now: `show(done)` reports (at
 * most as often as the reporter allows; `force` for the first and last), `end()` finishes.
 */
export function countProgress(
  total: number,
  unit: string,
  reporter: ProgressReporter = progressReporter(),
) {
  const started = Date.now();
  let shown: number | undefined;
  return {
    show(done: number, force = false) {
      // The same count twice (the first line of nothing to do, a last batch shown already)
      // would print the final line twice.
      if (done === shown) return;
      const line = `  ${progressLine({ done, total, elapsedMs: Date.now() - started }, unit)}`;
      if (reporter.show(line, force)) shown = done;
    },
    end: () => reporter.end(),
  };
}
