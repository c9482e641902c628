/**
 * In-memory fakes of the pipeline's ports, for handler-logic unit tests.
 */

import type { DeadLetterItem, DeadLetterQueue } from '../../lambda/aws/dead-letter-queue';
import type { SourceQueue, SourceQueueEntry } from '../../lambda/aws/source-queue';
import { TransientError } from '../../lambda/core/errors';
import { parseKeyRing } from '../../lambda/core/key-ring';
import type { LoginRow, LoginStore, RejectedRow } from '../../lambda/db/store';
import type { BatchDependencies, BatchSummary, Log } from '../../lambda/ingest/batch';
import { maskingSecret } from './sqs';

export interface FakeStore extends LoginStore {
  readonly rows: Map<string, LoginRow>;
  down: boolean;
  /** Message ids the "database" rejects with a CHECK violation. */
  readonly poison: Set<string>;
}

export function fakeStore(): FakeStore {
  const store: FakeStore = {
    rows: new Map(),
    down: false,
    poison: new Set(),
    async insert(rows) {
      if (store.down) throw new TransientError('database down');
      const rejected: RejectedRow[] = [];
      let inserted = 0;
      const existing: string[] = [];
      let taken = 0;
      for (const row of rows) {
        taken++;
        if (store.poison.has(row.messageId)) {
          rejected.push({ messageId: row.messageId, sqlState: '23514', constraint: 'no_poison' });
        } else if (!store.rows.has(row.messageId)) {
          store.rows.set(row.messageId, row);
          inserted++;
        } else existing.push(row.messageId);
      }
      return { rows: taken, inserted, existing, rejected, statements: 1 + rejected.length };
    },
  };
  return store;
}

export interface FakeDeadLetter extends DeadLetterQueue {
  readonly sent: DeadLetterItem[];
  down: boolean;
}

export function fakeDeadLetter(): FakeDeadLetter {
  const dlq: FakeDeadLetter = {
    sent: [],
    down: false,
    async send(items) {
      if (dlq.down) return new Set(items.map((item) => item.messageId));
      dlq.sent.push(...items);
      return new Set();
    },
  };
  return dlq;
}

export interface FakeSourceQueue extends SourceQueue {
  /** Visibility set per message id, seconds. */
  readonly visibility: Map<string, number>;
  readonly deleted: SourceQueueEntry[];
  down: boolean;
}

export function fakeSourceQueue(): FakeSourceQueue {
  const queue: FakeSourceQueue = {
    visibility: new Map(),
    deleted: [],
    down: false,
    async extendVisibility(entries) {
      if (queue.down) return new Set(entries.map((entry) => entry.messageId));
      for (const entry of entries) queue.visibility.set(entry.messageId, entry.seconds);
      return new Set();
    },
    async delete(entries) {
      if (queue.down) return new Set(entries.map((entry) => entry.messageId));
      queue.deleted.push(...entries);
      return new Set();
    },
  };
  return queue;
}

export interface RecordingLog extends Log {
  readonly lines: { level: string; message: string; attributes: Record<string, unknown> }[];
}

export function recordingLog(): RecordingLog {
  const lines: RecordingLog['lines'] = [];
  const at = (level: string) => (message: string, attributes: Record<string, unknown>) => {
    lines.push({ level, message, attributes });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Dependencies wired with fakes; `overrides` replace any. */
export function fakeDependencies(overrides: Partial<BatchDependencies> = {}) {
  const store = fakeStore();
  const deadLetter = fakeDeadLetter();
  const log = recordingLog();
  const summaries: BatchSummary[] = [];
  const source = fakeSourceQueue();
  const ring = parseKeyRing(maskingSecret());
  const deps: BatchDependencies = {
    store,
    keys: { get: async () => ring },
    deadLetter,
    log,
    publish: (summary) => summaries.push(summary),
    backoff: { queue: source, policy: { baseSeconds: 120, maxSeconds: 3600 }, random: () => 0 },
    ...overrides,
  };
  return { deps, store, deadLetter, log, summaries, source };
}
