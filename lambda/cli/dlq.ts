/**
 * `npm run dlq -- --peek`: dead-lettered messages by reason, with their message ids; never
 * a body. `npm run redrive`: moves them back to the source queue (see dead-letters.ts).
 */

import {
  type DeadLetterPeek,
  peekDeadLetters,
  previewRedrive,
  type RedrivePreview,
  type RedriveResult,
  redrive,
} from '../aws/dead-letters';
import { queueArnOf, sqsCall } from '../aws/queues';
import { queueDepth } from '../aws/source-queue';
import { UsageError } from '../core/errors';
import { signMarker } from '../core/redrive-marker';
import { parseCommandLine, requiredFlag, runCommand } from './command';
import { countProgress } from './progress';
import { functionUrlFlag, invokeOperations } from './remote';
import { previewAnswer, readMaskingRing, sqsClientFor, sqsEndpointLabel } from './shared';

const HELP = `Usage: npm run dlq -- --peek [options]      counts and message ids by reason, never a body
       npm run redrive -- [options]           move every dead letter back to the queue
       npm run redrive -- --dry-run [options] count what would move; move nothing

  --function-url URL   run it in the operations function (the stack's OpsFunctionUrl), signed
                       with your AWS credentials; it knows its queues and keys [OPS_FUNCTION_URL]
  --dlq-url URL        the dead-letter queue                          [DLQ_URL]
  --queue-url URL      the source queue (redrive)                     [QUEUE_URL]
  --dry-run            (redrive) print how many messages would move, by reason, and how many
                       further copies would be deleted; every message stays, visible
  --sqs-endpoint URL   a local endpoint (LocalStack, npm start --keep)  [AWS_ENDPOINT_URL_SQS]
  --masking-secret-id ID  the masking key ring (redrive): signs the redrive marker of messages
                       the queue's redrive policy moved, so they keep their id [MASKING_SECRET_ID]
  --keys-file FILE     the keys file npm start wrote, instead (local runs)      [KEYS_FILE]
  -h, --help           this text
`;

/**
 * The dry run's line on stdout. `signed`: the run would receive, send and delete (copies
 * deleted); else it may use SQS's move task, which moves every message, copies too.
 */
function reportPreview(preview: RedrivePreview, queueUrl: string, signed: boolean): number {
  const reasons = Object.entries(preview.byReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const copies = signed
    ? preview.copies > 0
      ? `; ${preview.copies} further copies would be deleted, not sent`
      : ''
    : '; without a masking key ring it may use an SQS move task, which moves copies too and gives every message a new id';
  process.stdout.write(
    `dry run: would move ${signed ? preview.wouldMove : preview.messages} messages back to ${queueUrl}${reasons ? ` (${reasons})` : ''}${copies}; nothing was moved\n`,
  );
  return 0;
}

runCommand('dlq', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      peek: { type: 'boolean' },
      redrive: { type: 'boolean' },
      'dry-run': { type: 'boolean', default: false },
      'function-url': { type: 'string', default: process.env.OPS_FUNCTION_URL || undefined },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL || undefined },
      'queue-url': { type: 'string', default: process.env.QUEUE_URL || undefined },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS || undefined },
      'masking-secret-id': { type: 'string', default: process.env.MASKING_SECRET_ID || undefined },
      'keys-file': { type: 'string', default: process.env.KEYS_FILE || undefined },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  if (values.peek === values.redrive) throw new UsageError('give one of --peek or --redrive');
  const dryRun = values['dry-run'];
  if (dryRun && values.peek)
    throw new UsageError('--dry-run goes with redrive; --peek moves nothing');
  const report = (
    result: RedriveResult,
    total: number,
    queueUrl: string,
    progress?: ReturnType<typeof countProgress>,
  ) => {
    if (result.method === 'StartMessageMoveTask') {
      process.stdout.write(
        `started an SQS message move task (${result.taskHandle}) for ${total} messages; follow it with aws sqs list-message-move-tasks\n`,
      );
      return 0;
    }
    progress?.show(result.moved, true);
    progress?.end();
    const copies =
      result.duplicatesDropped > 0
        ? `; deleted ${result.duplicatesDropped} further copies of messages moved`
        : '';
    process.stdout.write(`moved ${result.moved} messages back to ${queueUrl}${copies}\n`);
    return 0;
  };
  const remote = functionUrlFlag(values['function-url']);
  if (remote && values.peek) {
    const peek = await invokeOperations<DeadLetterPeek>(remote, { command: 'dlq-peek' });
    process.stdout.write(`${JSON.stringify(peek, null, 2)}\n`);
    return 0;
  }
  if (remote && dryRun) {
    const preview = await invokeOperations<RedrivePreview & { queueUrl: string }>(remote, {
      command: 'redrive',
      dryRun,
    });
    return reportPreview(previewAnswer(preview, 'redrive'), preview.queueUrl, true);
  }
  if (remote) {
    const result = await invokeOperations<RedriveResult & { total: number; queueUrl: string }>(
      remote,
      { command: 'redrive' },
    );
    return report(result, result.total, result.queueUrl);
  }
  const dlqUrl = requiredFlag(values['dlq-url'], 'dlq-url', 'DLQ_URL');
  const endpoint = values['sqs-endpoint'];
  const label = sqsEndpointLabel(endpoint);
  const sqs = sqsClientFor(endpoint);
  const dlqArn = await queueArnOf(sqs, label, dlqUrl);
  if (values.peek) {
    const peek = await sqsCall(label, `queue ${dlqUrl}`, () => peekDeadLetters(sqs, dlqUrl));
    process.stdout.write(`${JSON.stringify(peek, null, 2)}\n`);
    return 0;
  }
  const queueUrl = requiredFlag(values['queue-url'], 'queue-url', 'QUEUE_URL');
  const queueArn = await queueArnOf(sqs, label, queueUrl);
  const keys = { keysFile: values['keys-file'], maskingSecretId: values['masking-secret-id'] };
  const ring =
    keys.keysFile || keys.maskingSecretId || process.env.MASKING_SECRET
      ? await readMaskingRing(keys)
      : undefined;
  if (dryRun) {
    const preview = await sqsCall(label, `queue ${dlqUrl}`, () => previewRedrive(sqs, dlqUrl));
    return reportPreview(preview, queueUrl, ring !== undefined);
  }
  const total = await sqsCall(label, `queue ${dlqUrl}`, () => queueDepth(sqs, dlqUrl));
  const progress = countProgress(total, 'messages');
  const result = await sqsCall(label, 'redrive', () =>
    redrive(
      sqs,
      { dlqUrl, dlqArn, queueUrl, queueArn },
      {
        sign: ring && ((id, sent) => signMarker(ring.current, id, sent)),
        onMoved: (moved) => progress.show(moved),
      },
    ),
  );
  return report(result, total, queueUrl, progress);
});
