/**
 * What `npm run send` reads from a file and how it groups bodies into SendMessageBatch calls.
 */
import { describe, expect, it } from 'vitest';
import {
  BATCH_BYTES,
  BATCH_ENTRIES,
  batchesOf,
  parseBodies,
} from '../../../lambda/cli/send-batches';

describe('parseBodies', () => {
  it('reads one body per line, CRLF too, skipping blank lines, and counts those that are not JSON', () => {
    const text = '{"a":1}\r\n\n   \nnot json\n{"b":2}\n';
    expect(parseBodies(text)).toEqual({ bodies: ['{"a":1}', 'not json', '{"b":2}'], notJson: 1 });
  });

  it('reads a JSON array: strings as they are, anything else as its JSON text', () => {
    const text = '[{"user_id":"u1"}, "raw text", "{\\"x\\":1}", 7]';
    expect(parseBodies(text)).toEqual({
      bodies: ['{"user_id":"u1"}', 'raw text', '{"x":1}', '7'],
      notJson: 1,
    });
  });

  it('reads a file of lines whose first line starts with "[" as lines', () => {
    expect(parseBodies('[1]\n[2]\n').bodies).toEqual(['[1]', '[2]']);
  });

  it('finds no bodies in an empty file', () => {
    expect(parseBodies('\n\n')).toEqual({ bodies: [], notJson: 0 });
  });
});

describe('batchesOf', () => {
  it('puts at most 10 bodies in a batch, in order', () => {
    const batches = batchesOf(Array.from({ length: 23 }, (_, i) => `{"i":${i}}`));
    expect(batches.map((b) => b.length)).toEqual([BATCH_ENTRIES, BATCH_ENTRIES, 3]);
    expect(batches.flat()).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('keeps each batch within 256 KiB of bodies, counted in UTF-8 bytes', () => {
    // 100 KiB each: two fit, a third would pass the limit. "é" is two bytes.
    const big = 'é'.repeat(50 * 1024);
    const batches = batchesOf([big, big, big, 'small']);
    expect(batches).toEqual([
      [0, 1],
      [2, 3],
    ]);
    for (const batch of batches) {
      const bytes = batch.reduce(
        (sum, i) => sum + Buffer.byteLength([big, big, big, 'small'][i] ?? ''),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(BATCH_BYTES);
    }
  });

  it('sends a body over the limit alone, for SQS to decide on', () => {
    const huge = 'x'.repeat(BATCH_BYTES + 1);
    expect(batchesOf(['a', huge, 'b'])).toEqual([[0], [1], [2]]);
  });
});
