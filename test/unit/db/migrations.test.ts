/**
 * Migrations only add. New handler code can go live before its migration runs, and old code
 * keeps running after it, so no migration may DROP, RENAME or change the type of anything:
 * removing a column is expand/contract (docs/design/schema.md).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, type Migration } from '../../../lambda/db/migrations';

/** The statements of a migration without comments and string literals, upper-cased. */
const code = (sql: string) =>
  sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .toUpperCase();

const FORBIDDEN = [
  { what: 'DROP', pattern: /\bDROP\b/ },
  { what: 'RENAME', pattern: /\bRENAME\b/ },
  // ALTER [COLUMN] c TYPE t / ALTER [COLUMN] c SET DATA TYPE t
  { what: 'ALTER ... TYPE', pattern: /\bALTER\s+(?:COLUMN\s+)?[\w"]+\s+(?:SET\s+DATA\s+)?TYPE\b/ },
];

/** What a migration does that running code may depend on not happening. */
function destructive(migration: Migration): string[] {
  const text = code(migration.sql);
  return FORBIDDEN.filter(({ pattern }) => pattern.test(text)).map(({ what }) => what);
}

// Contract steps of an expand/contract change (docs/design/schema.md), each reviewed: the version
// and why nothing running still uses what it drops.
const REVIEWED_CONTRACTIONS: Readonly<Record<number, string>> = {
  4:
    'converts user_logins to a partitioned table: renames the old table, copies every row, ' +
    'replays its privileges, points the view at the new table and drops the old one in one ' +
    'transaction; code of every version writes and reads it by the same name and columns ' +
    '(ON CONFLICT without a target, docs/design/schema.md)',
  8:
    'relaxes NOT NULL on erasure_audit.dead_letters_matched/deleted (an erasure without a DLQ ' +
    'records them as NULL, not checked); it drops a constraint, no data or column: code of ' +
    'every version inserts into the same columns',
};

// sha256 of each released migration's SQL: a released migration is never edited (databases
// that applied it would never see the change); add a new one instead.
const RELEASED: Readonly<Record<number, string>> = {
  1: 'ce87f26ba2d92c204e7c140b53b6f5294e8b9fb5f83b6fdc57959f37c6d7e7df',
  2: '54d7eeb16a1a53eb1ad4227fd5ca4bfb606ab5d0f295d62cf2ab089932384249',
  3: 'ca33f6c77ff233c211a3f9dbd53fe5468346912a42a14e1577e1f8f2067014c8',
  4: '7e400e1841a009cb6a5aaba4221579eafef1690c813a09ef66b9945154073b26',
  5: '9a26ba60e184d7175f2385635e0c69839e44761785b8298a6c1533767dabb3fd',
  6: 'ca74393b8f975387a837d2d3fb6238b8f3ead8d6cd379a6d449dec0a5a523fc4',
  7: '4e00a2d76044b4649768928d229504b131e699e33f535d692254b0cd7e7b9b40',
  8: '601ab9333601164f043944f8838112fa0975f14c26e89e3e73f14dd6f8f6c569',
  9: '158bd77afa9cfaa2c5b153d159d0604f521b7cbb3fcb39b87597fc0353fc93c0',
  10: 'ff42b4d97cae23b97a5eb6aaed365664251c03e9090c2249b6cccba1300eeb98',
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('MIGRATIONS', () => {
  it.each(
    MIGRATIONS.filter((m) => !(m.version in REVIEWED_CONTRACTIONS)).map(
      (m) => [m.version, m.name, m] as const,
    ),
  )(
    'migration %i (%s) only adds: no DROP, RENAME or ALTER ... TYPE',
    (_version, _name, migration) => {
      expect(destructive(migration)).toEqual([]);
    },
  );

  it('catches each destructive statement, and not the words inside comments or strings', () => {
    const check = (sql: string) => destructive({ version: 9, name: 't', sql });
    expect(check('ALTER TABLE user_logins DROP COLUMN locale')).toEqual(['DROP']);
    expect(check('drop index user_logins_message_id_key')).toEqual(['DROP']);
    expect(check('ALTER TABLE user_logins RENAME COLUMN locale TO lang')).toEqual(['RENAME']);
    expect(check('ALTER TABLE user_logins ALTER COLUMN app_version TYPE bigint')).toEqual([
      'ALTER ... TYPE',
    ]);
    expect(check('alter table t alter locale set data type text')).toEqual(['ALTER ... TYPE']);
    expect(
      check("-- we never drop or rename\nCOMMENT ON COLUMN t.c IS 'drop it, rename it'"),
    ).toEqual([]);
    expect(check('ALTER TABLE t ADD COLUMN c integer')).toEqual([]);
  });

  it('are numbered 1, 2, 3 … with unique names', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(new Set(MIGRATIONS.map((m) => m.name)).size).toBe(MIGRATIONS.length);
  });

  it('never change once released (add a migration instead)', () => {
    for (const [version, digest] of Object.entries(RELEASED)) {
      const migration = MIGRATIONS.find((m) => m.version === Number(version));
      expect(migration && sha256(migration.sql), `migration ${version}`).toBe(digest);
    }
  });
});
