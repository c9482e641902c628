/**
 * `npm run unmask -- <token> --reason "<why>"`: prints the ip or device id behind a token.
 * Needs the recovery private key ring (--recovery-secret-id, or --keys-file for local runs)
 * and the database, or --function-url: the operations function does it inside the VPC, with
 * the caller's IAM identity as the operator. Writes an audit row and an audit line on stderr
 * (who, when, which token, why; never the value).
 */
import { userInfo } from 'node:os';
import { UsageError } from '../core/errors';
import { type Recovered, recoverToken } from '../ops/recover';
import { parseCommandLine, requiredFlag, runCommand } from './command';
import { databaseUrlFlag } from './flags';
import { functionUrlFlag, invokeOperations } from './remote';
import { connectDatabase, readRecoveryRing } from './shared';

const HELP = `Usage: npm run unmask -- <token> --reason "<why>" [options]

Prints the ip or device id behind a token on stdout, and records who asked and why.

  --reason TEXT              why the value is needed (required; goes to the audit trail)
  --function-url URL         run it in the operations function (the stack's OpsFunctionUrl),
                             signed with your AWS credentials; the operator is your IAM
                             identity, and the key and database flags are not needed
                                                                              [OPS_FUNCTION_URL]
  --operator NAME            who asks (default: the OS user; not with --function-url)
                                                                              [UNMASK_OPERATOR]
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
      'function-url': { type: 'string', default: process.env.OPS_FUNCTION_URL || undefined },
      operator: { type: 'string' },
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
  const remote = functionUrlFlag(values['function-url']);
  if (remote && values.operator !== undefined)
    throw new UsageError(
      '--operator cannot be given with --function-url: the operator is your IAM identity',
    );
  let operator = values.operator ?? process.env.UNMASK_OPERATOR ?? userInfo().username;
  const audit = (outcome: string, more: Record<string, unknown> = {}) =>
    process.stderr.write(
      `${JSON.stringify({ audit: 'unmask', at: new Date().toISOString(), operator, token, reason, outcome, ...more })}\n`,
    );
  // Prints the value and audits the outcome, recovered or refused (never the value).
  const answer = async (recover: () => Promise<Recovered>): Promise<number> => {
    try {
      const recovered = await recover();
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
    }
  };
  if (remote) {
    operator = `IAM caller at ${remote.url.origin}`;
    return answer(async () => {
      const recovered = await invokeOperations<Recovered & { operator: string }>(remote, {
        command: 'unmask',
        token,
        reason,
      });
      operator = recovered.operator;
      return recovered;
    });
  }
  const ring = await readRecoveryRing({
    keysFile: values['keys-file'],
    recoverySecretId: values['recovery-secret-id'],
  });
  const pool = await connectDatabase(databaseUrl);
  try {
    return await answer(() => recoverToken(pool, token, ring, { operator, reason }));
  } finally {
    await pool.end();
  }
});
