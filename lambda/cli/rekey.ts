/**
 * `npm run rekey`: after a masking key rotation, recomputes older rows' tokens under the
 * current key (see rekey.ts). Needs the masking key ring and the recovery key ring.
 */

import { countRowsToRekey } from '../db/rekey';
import { previewRekey, type RekeyPreview, type RekeyResult, rekey } from '../ops/rekey';
import { integerFlag, parseCommandLine, runCommand } from './command';
import { databaseUrlFlag } from './flags';
import { countProgress } from './progress';
import { functionUrlFlag, invokeOperations } from './remote';
import { connectDatabase, previewAnswer, readMaskingRing, readRecoveryRing } from './shared';

const HELP = `Usage: npm run rekey -- [options]

Re-keys rows masked with an older key to the masking ring's current key, from their sealed
PII. Resumable: a second run continues where the first stopped. --dry-run first shows how
many rows it would rewrite.

  --batch-size N             rows per UPDATE, 1..100000 (default 1000)
  --dry-run                  print how many rows it would re-key, by their key id, and
                             change nothing (the key rings are read and checked all the same)
  --function-url URL         run it in the operations function (the stack's OpsFunctionUrl),
                             signed with your AWS credentials; no key or database flags
                                                                             [OPS_FUNCTION_URL]
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --keys-file FILE           the keys file npm start wrote (local runs)      [KEYS_FILE]
  --masking-secret-id ID     the masking key ring in Secrets Manager         [MASKING_SECRET_ID]
  --recovery-secret-id ID    the recovery key ring in Secrets Manager        [RECOVERY_SECRET_ID]
  -h, --help                 this text
`;

/** The dry run's line: rows by key id; exit 1 when recovery keys it would need are missing. */
function previewSummary(preview: RekeyPreview, keyId: string): number {
  const byKey = Object.entries(preview.byKeyId)
    .map(([id, n]) => `${n.toLocaleString('en-US')} on "${id}"`)
    .join(', ');
  process.stdout.write(
    `dry run: would re-key ${preview.rows.toLocaleString('en-US')} rows to key "${keyId}"${byKey ? ` (${byKey})` : ''}; ` +
      `${preview.withoutRecoveryData} rows on older keys have no recovery data and would keep their tokens; nothing was changed\n`,
  );
  if (preview.missingRecoveryKeys.length === 0) return 0;
  process.stderr.write(
    `rekey would fail: rows are sealed with recovery keys not in the given ring: ${preview.missingRecoveryKeys.join(', ')}\n`,
  );
  return 1;
}

runCommand('rekey', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      'batch-size': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'function-url': { type: 'string', default: process.env.OPS_FUNCTION_URL || undefined },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'keys-file': { type: 'string', default: process.env.KEYS_FILE || undefined },
      'masking-secret-id': { type: 'string', default: process.env.MASKING_SECRET_ID },
      'recovery-secret-id': { type: 'string', default: process.env.RECOVERY_SECRET_ID },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  const databaseUrl = databaseUrlFlag(values['database-url']);
  const batchSize = integerFlag(values['batch-size'], 'batch-size', {
    min: 1,
    max: 100_000,
    fallback: 1000,
  });
  const summary = (result: RekeyResult, keyId: string) =>
    process.stdout.write(
      `re-keyed ${result.rekeyed} rows to key "${keyId}" in ${result.batches} batches; ` +
        `${result.withoutRecoveryData} rows on older keys have no recovery data and keep their tokens\n`,
    );
  const dryRun = values['dry-run'];
  const remote = functionUrlFlag(values['function-url']);
  if (remote) {
    const result = await invokeOperations<(RekeyResult | RekeyPreview) & { keyId: string }>(
      remote,
      { command: 'rekey', batchSize, ...(dryRun ? { dryRun } : {}) },
    );
    if (dryRun) return previewSummary(previewAnswer(result, 'rekey') as RekeyPreview, result.keyId);
    summary(result as RekeyResult, result.keyId);
    return 0;
  }
  const sources = {
    keysFile: values['keys-file'],
    maskingSecretId: values['masking-secret-id'],
    recoverySecretId: values['recovery-secret-id'],
  };
  const masking = await readMaskingRing(sources);
  const recovery = await readRecoveryRing(sources);
  const pool = await connectDatabase(databaseUrl);
  try {
    if (dryRun)
      return previewSummary(
        await previewRekey(pool, masking.current.id, recovery),
        masking.current.id,
      );
    const total = await countRowsToRekey(pool, masking.current.id);
    const progress = countProgress(total, 'rows');
    progress.show(0, true);
    const result = await rekey(pool, masking, recovery, {
      batchSize,
      onBatch: (n) => progress.show(n),
    });
    progress.show(result.rekeyed, true);
    progress.end();
    summary(result, masking.current.id);
    return 0;
  } finally {
    await pool.end();
  }
});
