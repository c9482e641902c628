/**
 * `npm run forget -- --user-id <id> --reason "<why>"`: erases one person's rows, counts (and
 * with --delete-dead-letters deletes) the dead letters that mention them, and audits it under
 * a keyed token of the id (forget.ts). Locally it needs the masking key ring and the database,
 * and checks the DLQ when one is given; --dry-run says what would go; with --function-url the operations function does it, the operator being the IAM
 * caller. Prints the audit record as JSON; never the id, a body or a value.
 */
import { userInfo } from 'node:os';
import { queueArnOf } from '../aws/queues';
import { UnreachableError, UsageError } from '../core/errors';
import { type ForgetPreview, type ForgetResult, forgetUser, previewForget } from '../ops/forget';
import { forgetInputProblem } from '../ops/requests';
import { parseCommandLine, requiredFlag, runCommand } from './command';
import { databaseUrlFlag } from './flags';
import { functionUrlFlag, invokeOperations } from './remote';
import {
  connectDatabase,
  previewAnswer,
  readMaskingRing,
  sqsClientFor,
  sqsEndpointLabel,
} from './shared';

const HELP = `Usage: npm run forget -- --user-id <id> --reason "<why>" [options]

Erases one person's data: deletes their rows of user_logins (every partition, the sealed PII
with them) and records the erasure in erasure_audit under a keyed token of the id, never the
id itself. Counts the messages of the dead-letter queue that mention the user (never printing
them) and, with --delete-dead-letters, deletes the user's own logins among them (a JSON body
whose user_id is the id; bodies that merely hold the id elsewhere are counted as possible and
never deleted); without a DLQ it erases the rows
and says the dead letters were not checked. One database transaction. Prints the audit record
as JSON on stdout. --dry-run first prints what it would erase, and changes nothing.

  --user-id ID               whose data (required; not repeated in any output)
  --reason TEXT              why (required; goes to the audit; must not contain the id)
  --delete-dead-letters      also delete the user's own logins in the DLQ (never a possible one)
  --dry-run                  print the rows it would delete (by partition) and the dead
                             letters it would match and delete; erase and audit nothing
  --function-url URL         run it in the operations function (the stack's OpsFunctionUrl),
                             signed with your AWS credentials; the operator is your IAM
                             identity, and no key, database or queue flags are needed
                                                                            [OPS_FUNCTION_URL]
  --operator NAME            who asks (default: the OS user; not with --function-url)
                                                                            [FORGET_OPERATOR]
  --database-url URL         [DATABASE_URL, or DB_HOST/DB_NAME/DB_USER/DB_PASSWORD_SECRET_ID]
  --dlq-url URL              the dead-letter queue to check (without it, not checked)
                                                                            [DLQ_URL]
  --sqs-endpoint URL         a local endpoint (LocalStack, npm start --keep) [AWS_ENDPOINT_URL_SQS]
  --keys-file FILE           the keys file npm start wrote (local runs)     [KEYS_FILE]
  --masking-secret-id ID     the masking key ring in Secrets Manager        [MASKING_SECRET_ID]
  -h, --help                 this text
`;

const NOT_CHECKED =
  "dead letters were not checked (no dead-letter queue given: --dlq-url or DLQ_URL); they may still hold this user's logins\n";

/** What the scan could not see, and what it counted without claiming. */
function warnScan({ hiddenAtStart, possible }: { hiddenAtStart: number; possible: number }) {
  if (hiddenAtStart > 0)
    process.stderr.write(
      `warning: ${hiddenAtStart} dead letters were held by another reader (a redrive, a dlq --peek, an earlier forget) and were not read; run forget again once they are visible\n`,
    );
  if (possible > 0)
    process.stderr.write(
      `${possible} other ${possible === 1 ? 'dead letter holds' : 'dead letters hold'} the id outside user_id (another field, or a body that is not JSON): not counted as the user's and never deleted by forget (see them in the SQS console)\n`,
    );
}

/** The dry run's lines on stderr: what would be erased, and that nothing was. */
function reportPreview(preview: ForgetPreview): number {
  const partitions = Object.entries(preview.rowsByPartition)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  const dead = preview.deadLetters;
  process.stderr.write(
    `dry run: would delete ${preview.rows} rows${partitions ? ` (${partitions})` : ' (no row has this user id)'}` +
      `${dead ? ` and ${dead.wouldDelete} of the ${dead.matched} dead letters that are the user's` : ''}; nothing was changed or audited\n`,
  );
  if (dead === null) process.stderr.write(NOT_CHECKED);
  else warnScan(dead);
  return 0;
}

runCommand('forget', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      'user-id': { type: 'string' },
      reason: { type: 'string' },
      'delete-dead-letters': { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
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
  const dryRun = values['dry-run'];
  let result: ForgetResult | ForgetPreview;
  let where: string;
  if (remote) {
    where = `the operations function at ${remote.url.origin}`;
    result = await invokeOperations<ForgetResult | ForgetPreview>(remote, {
      command: 'forget',
      userId,
      reason,
      deleteDeadLetters,
      ...(dryRun ? { dryRun } : {}),
    });
    if (dryRun) result = previewAnswer(result, 'forget');
  } else {
    const dlqUrl = values['dlq-url'];
    if (deleteDeadLetters && dlqUrl === undefined)
      throw new UsageError(
        '--delete-dead-letters needs the dead-letter queue: --dlq-url (or DLQ_URL)',
      );
    const operator = values.operator ?? process.env.FORGET_OPERATOR ?? userInfo().username;
    const ring = await readMaskingRing({
      keysFile: values['keys-file'],
      maskingSecretId: values['masking-secret-id'],
    });
    const endpoint = values['sqs-endpoint'];
    where = `SQS at ${sqsEndpointLabel(endpoint)}`;
    const sqs = dlqUrl === undefined ? undefined : sqsClientFor(endpoint);
    const pool = await connectDatabase(databaseUrl);
    try {
      if (sqs && dlqUrl) await queueArnOf(sqs, sqsEndpointLabel(endpoint), dlqUrl);
      const deps = { pool, sqs, dlqUrl };
      result = dryRun
        ? await previewForget(deps, ring.current, { userId, deleteDeadLetters })
        : await forgetUser(deps, ring.current, { userId, reason, operator, deleteDeadLetters });
    } finally {
      await pool.end();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if ('dryRun' in result) return reportPreview(result);
  const rows = result.rowsDeleted;
  if (rows === 0)
    process.stderr.write(
      'no row of user_logins has this user id: 0 rows deleted (the request is audited all the same)\n',
    );
  if (result.deadLetters === null) {
    process.stderr.write(NOT_CHECKED);
    return 0;
  }
  const { matched, deleted, deleteError, leftHidden, possible, hiddenAtStart } = result.deadLetters;
  warnScan({ hiddenAtStart, possible });
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
