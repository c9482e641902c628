/**
 * The send step: dead letters to the dead-letter queue, each logged with its reason (never
 * its body). Without a queue, or when a send fails, the records go back to the source queue.
 */
import type { DeadLetterQueue } from '../aws/dead-letter-queue';
import type { DeadLetterItem } from '../core/fate';

/** The subset of the logger used here. */
interface Log {
  warn(message: string, attributes: Record<string, unknown>): void;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * A sender of dead letters to `queue` (undefined: none configured). Resolves to the message
 * ids that were not sent; never rejects.
 */
export function deadLetterSender(queue: DeadLetterQueue | undefined, log: Log) {
  return async (items: readonly DeadLetterItem[]): Promise<ReadonlySet<string>> => {
    if (items.length === 0) return NONE;
    for (const item of items) {
      log.warn('record rejected', {
        messageId: item.messageId,
        reason: item.reason,
        detail: item.detail,
      });
    }
    return queue === undefined ? new Set(items.map((item) => item.messageId)) : queue.send(items);
  };
}
