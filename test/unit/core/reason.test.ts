/**
 * Naming what failed: reasons that are never empty.
 */
import { describe, expect, it } from 'vitest';
import { reasonOf } from '../../../lambda/core/reason';

describe('reasonOf', () => {
  it('uses the message, else the code, else the name, else the first of an AggregateError', () => {
    expect(reasonOf(new Error('boom'))).toBe('boom');
    expect(reasonOf(Object.assign(new Error(''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(reasonOf(new AggregateError([new Error('connect ECONNREFUSED ::1:5432')], ''))).toBe(
      'connect ECONNREFUSED ::1:5432',
    );
  });
});
