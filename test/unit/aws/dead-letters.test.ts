import { describe, expect, it } from 'vitest';
import { type DeadLetterPeek, deadLettersAmong, REDRIVEN } from '../../../lambda/aws/dead-letters';

describe("a run's own dead letters", () => {
  it("counts this run's distinct messages, their further copies apart, and leaves other runs' out", () => {
    // Arrange: a DLQ holding this run's a (twice) and b, and another run's c and d.
    const peek: DeadLetterPeek = {
      total: 5,
      byReason: { 'body.not_json': 3, [REDRIVEN]: 2 },
      messageIds: { 'body.not_json': ['a', 'a', 'c'], [REDRIVEN]: ['b', 'd'] },
      duplicates: { a: 2 },
    };
    // Act
    const own = deadLettersAmong(peek, new Set(['a', 'b', 'e']));
    // Assert
    expect(own).toEqual({
      messages: 2,
      copies: 1,
      byReason: { 'body.not_json': 1, [REDRIVEN]: 1 },
    });
  });
});
