/**
 * A dry run through the operations function: an answer that is not a preview (a function
 * deployed before dry runs, which ignores the field) is a failure, never shown as a preview.
 */
import { describe, expect, it } from 'vitest';
import { previewAnswer } from '../../../lambda/cli/shared';

describe('previewAnswer', () => {
  it('passes a preview through', () => {
    const preview = { dryRun: true as const, wouldMove: 3 };
    expect(previewAnswer(preview, 'redrive')).toBe(preview);
  });

  it('fails loudly on the answer of a function that did the work for real', () => {
    expect(() => previewAnswer({ method: 'receive-send-delete', moved: 3 }, 'redrive')).toThrow(
      /^the operations function ran redrive for real, not as a dry run: it predates --dry-run \(deploy this version\); its answer: \{"method":"receive-send-delete","moved":3\}$/,
    );
  });
});
