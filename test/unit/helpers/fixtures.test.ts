/**
 * The take-home fixture helper: a clone without ../shared skips with a reason; CI fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Skip, takeHomeDir } from '../../helpers/fixtures';

class Skipped extends Error {}

function recordingSkip() {
  const notes: (string | undefined)[] = [];
  const skip: Skip = (note) => {
    notes.push(note);
    throw new Skipped(note);
  };
  return { notes, skip };
}

const missing = join(tmpdir(), 'login-queue-no-such-fixture/');

describe('the take-home fixture', () => {
  it('skips the test with a note naming the missing directory outside CI', () => {
    // Arrange
    const { notes, skip } = recordingSkip();
    // Act / Assert
    expect(() => takeHomeDir(skip, missing, false)).toThrow(Skipped);
    expect(notes).toEqual([expect.stringContaining(`take-home fixture not found at ${missing}`)]);
  });

  it('fails the test under CI=true instead of skipping it', () => {
    const { notes, skip } = recordingSkip();
    expect(() => takeHomeDir(skip, missing, true)).toThrow(/CI=true needs it/);
    expect(notes).toEqual([]);
  });

  it('returns the directory when both files are there', () => {
    // Arrange
    const dir = `${mkdtempSync(join(tmpdir(), 'login-queue-fixture-'))}/`;
    writeFileSync(`${dir}messages.jsonl`, '{}\n');
    writeFileSync(`${dir}user_logins.ddl.sql`, 'SELECT 1;\n');
    const { notes, skip } = recordingSkip();
    try {
      // Act / Assert
      expect(takeHomeDir(skip, dir, true)).toBe(dir);
      expect(notes).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
