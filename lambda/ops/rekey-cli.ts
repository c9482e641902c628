/**
 * `npm run rekey`: after a masking key rotation, recomputes older rows' tokens under the
 * current key (see rekey.ts). Needs the masking key ring and the recovery key ring.
 */
import { parseArgs } from 'node:util';
import { runCommand } from '../command';
import { parseKeyRing } from '../key-ring';
import { databasePool, readRecoveryRing, readSecret } from './cli';
import { rekey } from './rekey';

const HELP = `Usage: npm run rekey -- [options]

  --batch-size N             rows per UPDATE (default 1000)
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --masking-secret-id ID     the masking key ring                           [MASKING_SECRET_ID]
  --recovery-secret-id ID    the recovery key ring                          [RECOVERY_SECRET_ID]
  MASKING_SECRET / RECOVERY_SECRET   the rings inline, as JSON (local runs)
`;

runCommand('rekey', async () => {
  const { values } = parseArgs({
    options: {
      'batch-size': { type: 'string', default: '1000' },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'masking-secret-id': { type: 'string', default: process.env.MASKING_SECRET_ID },
      'recovery-secret-id': { type: 'string', default: process.env.RECOVERY_SECRET_ID },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const masking = parseKeyRing(
    await readSecret(
      process.env.MASKING_SECRET,
      values['masking-secret-id'],
      'the masking key ring',
    ),
  );
  const recovery = await readRecoveryRing(values['recovery-secret-id']);
  const pool = databasePool(values['database-url']);
  try {
    const result = await rekey(pool, masking, recovery, {
      batchSize: Number(values['batch-size']),
      onBatch: (n) => process.stderr.write(`\r  re-keyed ${n} rows`),
    });
    process.stderr.write('\n');
    process.stdout.write(
      `re-keyed ${result.rekeyed} rows to key "${masking.current.id}" in ${result.batches} batches; ` +
        `${result.withoutRecoveryData} rows on older keys have no recovery data and keep their tokens\n`,
    );
    return 0;
  } finally {
    await pool.end();
  }
});
