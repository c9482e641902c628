/**
 * The parse step: the batch's bodies parsed on demand, so that the first rows reach
 * PostgreSQL before the last bodies are parsed.
 */
import type { SQSRecord } from 'aws-lambda';
import { parseLoginEvent, type Rejection } from '../core/login-event';
import type { Valid } from '../core/rows';

export interface Invalid {
  readonly record: SQSRecord;
  readonly rejection: Rejection;
}

export interface BatchParser {
  /** Parses up to the next valid record; undefined once every record is parsed. */
  next(): Valid | undefined;
  /** Parses every record not parsed yet. */
  finish(): void;
  /** The valid records so far, in batch order. */
  readonly valid: readonly Valid[];
  /** The invalid records so far, in batch order. */
  readonly invalid: readonly Invalid[];
  /** Resolves to the invalid records once the last record is parsed. */
  readonly parsed: Promise<readonly Invalid[]>;
}

/** A parser of `records`. */
export function createBatchParser(records: readonly SQSRecord[]): BatchParser {
  const valid: Valid[] = [];
  const invalid: Invalid[] = [];
  let parsedUpTo = 0;
  let done: ((invalid: readonly Invalid[]) => void) | undefined;
  const parsed = new Promise<readonly Invalid[]>((resolve) => {
    done = resolve;
  });
  const next = (): Valid | undefined => {
    while (parsedUpTo < records.length) {
      const record = records[parsedUpTo++] as SQSRecord;
      const parsed = parseLoginEvent(record.body);
      if (parsed.ok) {
        const item = { record, event: parsed.event };
        valid.push(item);
        return item;
      }
      invalid.push({ record, rejection: parsed.rejection });
    }
    done?.(invalid);
    return undefined;
  };
  return {
    next,
    finish: () => {
      while (next() !== undefined);
    },
    valid,
    invalid,
    parsed,
  };
}
