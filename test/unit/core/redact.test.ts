import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasPassword, redactPasswords } from '../../../lambda/core/redact';

describe('redactPasswords', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/x', 'postgres://app:****@db:5432/x'],
    [
      "psql 'postgresql://u:p%40ss@127.0.0.1/postgres' -c 1",
      "psql 'postgresql://u:****@127.0.0.1/postgres' -c 1",
    ],
    ['postgres://u:p@ss@h/db', 'postgres://u:****@h/db'],
    [
      'postgres://h/db?sslmode=require&password=pw',
      'postgres://h/db?sslmode=require&password=****',
    ],
    ['http://key:secret@localhost:4566', 'http://key:****@localhost:4566'],
  ])('masks the password in %s', (text, masked) => {
    expect(redactPasswords(text)).toBe(masked);
  });

  it.each([
    'postgres://app@db:5432/x',
    'http://127.0.0.1:4566/000000000000/login-queue',
    'PostgreSQL at 127.0.0.1:5432/postgres: connect ECONNREFUSED',
    'arn:aws:secretsmanager:us-east-1:000000000000:secret:x',
  ])('leaves %s as it is', (text) => {
    expect(redactPasswords(text)).toBe(text);
    expect(hasPassword(text)).toBe(false);
  });

  it('never lets a URL password through, whatever it is', () => {
    // "Pw" first, so that the password is never a piece of the rest of the line.
    const password = fc.stringMatching(/^Pw[A-Za-z0-9_.~!$&()*+,;=%-]{4,30}$/);
    fc.assert(
      fc.property(password, (pw) => {
        const line = `export DATABASE_URL='postgres://user:${pw}@db.example:5432/app'`;
        expect(redactPasswords(line)).not.toContain(pw);
        expect(hasPassword(line)).toBe(true);
      }),
    );
  });
});
