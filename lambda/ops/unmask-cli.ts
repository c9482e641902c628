/**
 * `npm run unmask -- <token> --reason "<why>"`: prints the ip or device id behind a token.
 * Needs the recovery private key ring (--recovery-secret-id, or --keys-file for local runs)
 * and the database. Writes an audit row and an audit line on stderr (who, when, which
 * token, why; never the value).
 */
import { userInfo } from 'node:os';
import { parseCommandLine, requiredFlag, runCommand } from '../command';
import { UsageError } from '../errors';
import { connectDatabase, readRecoveryRing } from './cli';
import { databaseUrlFlag } from './preflight';
import { recoverToken } from './recover';

const HELP = `Usage: npm run unmask -- <token> --reason "<why>" [options]

Prints the ip or device id behind a token on stdout, and records who asked and why.

  --reason TEXT              why the value is needed (required; goes to the audit trail)
  --operator NAME            who asks (default: the OS user)                  [UNMASK_OPERATOR]
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --keys-file FILE           the keys file npm start wrote (local runs)       [KEYS_FILE]
  --recovery-secret-id ID    the recovery key ring in Secrets Manager         [RECOVERY_SECRET_ID]
  -h, --help                 this text
`;

runCommand('unmask', async () => {
  const args = parseCommandLine(HELP, {
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      operator: { type: 'string', default: process.env.UNMASK_OPERATOR ?? userInfo().username },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'keys-file': { type: 'string', default: process.env.KEYS_FILE || undefined },
      'recovery-secret-id': { type: 'string', default: process.env.RECOVERY_SECRET_ID },
    },
  });
  if (args === undefined) return 0;
  const { values, positionals } = args;
  const databaseUrl = databaseUrlFlag(values['database-url']);
  const [token, ...extra] = positionals;
  if (token === undefined) throw new UsageError('a token to unmask is required');
  if (extra.length > 0) throw new UsageError(`one token at a time, got ${positionals.length}`);
  const reason = requiredFlag(values.reason, 'reason');
  const operator = values.operator ?? 'unknown';
  const audit = (outcome: string, more: Record<string, unknown> = {}) =>
    process.stderr.write(
      `${JSON.stringify({ audit: 'unmask', at: new Date().toISOString(), operator, token, reason, outcome, ...more })}\n`,
    );
  const ring = await readRecoveryRing({
    keysFile: values['keys-file'],
    recoverySecretId: values['recovery-secret-id'],
  });
  const pool = await connectDatabase(databaseUrl);
  try {
    const recovered = await recoverToken(pool, token, ring, { operator, reason });
    audit('recovered', {
      field: recovered.field,
      messageId: recovered.messageId,
      recoveryKeyId: recovered.recoveryKeyId,
    });
    process.stdout.write(`${recovered.value}\n`);
    return 0;
  } catch (error) {
    audit('refused', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    await pool.end();
  }
});
