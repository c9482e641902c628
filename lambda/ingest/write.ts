/**
 * The write step: the valid records' rows, masked and sealed as the store reads them, so that
 * our CPU work overlaps PostgreSQL's; parsing goes on between rows (parse.ts).
 */
import type { StoreAnswer } from '../core/fate';
import type { KeyRing } from '../core/key-ring';
import { batchMasker } from '../core/masking';
import { createSealer, type RecoveryPublicKey } from '../core/recovery';
import { type RecordIdentity, recordIdentity } from '../core/redrive-marker';
import { rowBuilder, type Valid } from '../core/rows';
import type { LoginStore } from '../db/store';
import type { BatchParser } from './parse';

export interface WriteDependencies {
  readonly store: LoginStore;
  /** Seals ip and device_id for controlled recovery; undefined = no recovery data. */
  readonly recovery: RecoveryPublicKey | undefined;
}

export interface Written {
  /** The store's answer; undefined when the batch has no valid record (it was not asked). */
  readonly answer: StoreAnswer | undefined;
  /** The identity of each valid record whose row was built, in the order of parser.valid. */
  readonly identities: readonly RecordIdentity[];
  /** The key ring the rows were masked with; undefined when it could not be read. */
  readonly keys: KeyRing | undefined;
  /** Records whose SourceMessageId did not verify: stored under their own id. */
  readonly unverified: readonly string[];
}

/**
 * Writes the rows of the parser's valid records in one store call, parsing as it goes; every
 * record is parsed when it resolves. Never rejects: a key ring that cannot be read or a store
 * that fails is the answer `{ ok: false, error }`.
 */
export async function writeRows(
  parser: BatchParser,
  ring: Promise<KeyRing>,
  now: number,
  deps: WriteDependencies,
): Promise<Written> {
  const identities: RecordIdentity[] = [];
  const unverified: string[] = [];
  const first = parser.next();
  if (first === undefined) return { answer: undefined, identities, keys: undefined, unverified };
  let keys: KeyRing | undefined;
  try {
    const loaded = await ring;
    keys = loaded;
    const { current } = loaded;
    const sealer = deps.recovery && createSealer(deps.recovery);
    const toRow = rowBuilder(current, batchMasker(current), sealer, now);
    // Lazy: the store streams the first rows to PostgreSQL while later ones are parsed and masked.
    const rows = (function* () {
      for (let item: Valid | undefined = first; item !== undefined; item = parser.next()) {
        const identity = recordIdentity(item.record, loaded, (id) => unverified.push(id));
        identities.push(identity);
        yield toRow(item, identity);
      }
    })();
    const result = await deps.store.insert(rows);
    return { answer: { ok: true, ...result }, identities, keys, unverified };
  } catch (error) {
    // Key or database unavailable: nothing of this batch may be lost (its fates say retry).
    return { answer: { ok: false, error }, identities, keys, unverified };
  } finally {
    // A store that stopped early (or failed) left records unparsed: every record needs a fate.
    parser.finish();
  }
}
