/**
 * `npm run forget -- --user-id <id> --reason "<why>"`: erases one person's rows, counts (and
 * with --delete-dead-letters deletes) the dead letters that mention them, and audits it under
 * a keyed token of the id (forget.ts). Locally it needs the masking key ring, the database and
 * the DLQ; with --function-url the operations function does it, the operator being the IAM
 * caller. Prints the audit record as JSON; never the id, a body or a value.
 */
import { userInfo } from 'node:os';
import { parseCommandLine, requiredFlag, runCommand } from '../command';
import { UnreachableError, UsageError } from '../errors';
import { connectDatabase, readMaskingRing, sqsClientFor, sqsEndpointLabel } from './cli';
import { type ForgetResult, forgetUser } from './forget';
import { databaseUrlFlag, queueArnOf } from './preflight';
import { functionUrlFlag, invokeOperations } from './remote';
import { forgetInputProblem } from './requests';

const HELP = `Usage: npm run forget -- --user-id <id> --reason "<why>" [options]

Erases one person's data: deletes their rows of user_logins (every partition, the sealed PII
with them) and records the erasure in erasure_audit under a keyed token of the id, never the
id itself. Counts the messages of the dead-letter queue that mention the user (never printing
them) and, with --delete-dead-letters, deletes those too. One database transaction. Prints the
audit record as JSON on stdout.

  --user-id ID               whose data (required; not repeated in any output)
  --reason TEXT              why (required; goes to the audit; must not contain the id)
  --delete-dead-letters      also delete the dead letters that mention the user
  --function-url URL         run it in the operations function (the stack's OpsFunctionUrl),
                             signed with your AWS credentials; the operator is your IAM
                             identity, and no key, database or queue flags are needed
                                                                            [OPS_FUNCTION_URL]
  --operator NAME            who asks (default: the OS user; not with --function-url)
                                                                            [FORGET_OPERATOR]
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --dlq-url URL              the dead-letter queue (required locally)       [DLQ_URL]
  --sqs-endpoint URL         a local endpoint (LocalStack, npm start --keep) [AWS_ENDPOINT_URL_SQS]
  --keys-file FILE           the keys file npm start wrote (local runs)     [KEYS_FILE]
  --masking-secret-id ID     the masking key ring in Secrets Manager        [MASKING_SECRET_ID]
  -h, --help                 this text
`;

runCommand('forget', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      'user-id': { type: 'string' },
      reason: { type: 'string' },
      'delete-dead-letters': { type: 'boolean', default: false },
      'function-url': { type: 'string', default: process.env.OPS_FUNCTION_URL || undefined },
      operator: { type: 'string' },
      'database-url': { type: 'string', default: process.env.DATABASE_URL || undefined },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL || undefined },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS || undefined },
      'keys-file': { type: 'string', default: process.env.KEYS_FILE || undefined },
      'masking-secret-id': { type: 'string', default: process.env.MASKING_SECRET_ID || undefined },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  const userId = requiredFlag(values['user-id'], 'user-id');
  const reason = requiredFlag(values.reason, 'reason');
  const problem = forgetInputProblem(userId, reason);
  if (problem !== undefined) throw new UsageError(problem);
  const deleteDeadLetters = values['delete-dead-letters'];
  const databaseUrl = databaseUrlFlag(values['database-url']);
  const remote = functionUrlFlag(values['function-url']);
  if (remote && values.operator !== undefined)
    throw new UsageError(
      '--operator cannot be given with --function-url: the operator is your IAM identity',
    );
  let result: ForgetResult;
  let where: string;
  if (remote) {
    where = `the operations function at ${remote.url.origin}`;
    result = await invokeOperations<ForgetResult>(remote, {
      command: 'forget',
      userId,
      reason,
      deleteDeadLetters,
    });
  } else {
    const dlqUrl = requiredFlag(values['dlq-url'], 'dlq-url', 'DLQ_URL');
    const operator = values.operator ?? process.env.FORGET_OPERATOR ?? userInfo().username;
    const ring = await readMaskingRing({
      keysFile: values['keys-file'],
      maskingSecretId: values['masking-secret-id'],
    });
    const endpoint = values['sqs-endpoint'];
    where = `SQS at ${sqsEndpointLabel(endpoint)}`;
    const sqs = sqsClientFor(endpoint);
    const pool = await connectDatabase(databaseUrl);
    try {
      await queueArnOf(sqs, sqsEndpointLabel(endpoint), dlqUrl);
      result = await forgetUser({ pool, sqs, dlqUrl }, ring.current, {
        userId,
        reason,
        operator,
        deleteDeadLetters,
      });
    } finally {
      await pool.end();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const { matched, deleted, deleteError, leftHidden, possible, hiddenAtStart } = result.deadLetters;
  if (hiddenAtStart > 0)
    process.stderr.write(
      `warning: ${hiddenAtStart} dead letters were held by another reader (a redrive, a dlq --peek, an earlier forget) and were not read; run forget again once they are visible\n`,
    );
  if (possible > 0)
    process.stderr.write(
      `${possible} other ${possible === 1 ? 'dead letter holds' : 'dead letters hold'} the id outside user_id (another field, or a body that is not JSON): not counted as the user's and never deleted by forget (see them in the SQS console)\n`,
    );
  if (leftHidden > 0)
    process.stderr.write(
      `warning: ${leftHidden} dead letters could not be made visible again; they return when their visibility timeout ends\n`,
    );
  if (deleteError !== undefined)
    throw new UnreachableError(
      `${where}: deleted ${deleted} of the ${matched} dead letters that mention the user (audited): ${deleteError}; run forget again with --delete-dead-letters`,
    );
  const kept = matched - deleted;
  if (kept > 0)
    process.stderr.write(
      `${kept} ${kept === 1 ? 'dead letter still mentions' : 'dead letters still mention'} this user; --delete-dead-letters deletes ${kept === 1 ? 'it' : 'them'}\n`,
    );
  return 0;
});
