/**
 * `npm run unmask -- <token> --reason "<why>"`: prints the ip or device id behind a token.
 * Needs the recovery private key ring (--recovery-secret-id, or RECOVERY_SECRET inline for
 * local runs) and the database. Writes an audit row and an audit line on stderr (who, when,
 * which token, why; never the value).
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { runCommand } from '../command';
import { databasePool, readRecoveryRing } from './cli';
import { recoverToken } from './recover';

const HELP = `Usage: npm run unmask -- <token> --reason "<why>" [options]

  --reason TEXT              why the value is needed (required; goes to the audit trail)
  --operator NAME            who asks (default: the OS user)
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --recovery-secret-id ID    Secrets Manager id of the recovery key ring   [RECOVERY_SECRET_ID]
  RECOVERY_SECRET            the ring inline, as JSON (local runs)
`;

runCommand('unmask', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      operator: { type: 'string', default: process.env.UNMASK_OPERATOR ?? userInfo().username },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'recovery-secret-id': { type: 'string', default: process.env.RECOVERY_SECRET_ID },
      help: { type: 'boolean' },
    },
  });
  const [token] = positionals;
  if (values.help || token === undefined || !values.reason) {
    process.stderr.write(HELP);
    return values.help ? 0 : 2;
  }
  const audit = (outcome: string, extra: Record<string, unknown> = {}) =>
    process.stderr.write(
      `${JSON.stringify({ audit: 'unmask', at: new Date().toISOString(), operator: values.operator, token, reason: values.reason, outcome, ...extra })}\n`,
    );
  const ring = await readRecoveryRing(values['recovery-secret-id']);
  const pool = databasePool(values['database-url']);
  try {
    const recovered = await recoverToken(pool, token, ring, {
      operator: values.operator ?? 'unknown',
      reason: values.reason,
    });
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
