/**
 * `npm run send -- FILE`: puts a file's message bodies on a queue (send.ts), e.g. the
 * take-home's messages onto `npm start --keep`'s SQS, or a fixed body after a redrive.
 */
import { readFileSync } from 'node:fs';
import { resolveQueueUrl } from '../aws/queues';
import { UnreachableError, UsageError } from '../core/errors';
import { parseCommandLine, runCommand } from './command';
import { countProgress } from './progress';
import { parseBodies, SendFailedError, sendBodies } from './send-batches';
import { sqsClientFor, sqsEndpointLabel } from './shared';

const HELP = `Usage: npm run send -- FILE [options]

Sends the message bodies of FILE (- for stdin) to a queue with SendMessageBatch, 10 at a time
and at most 256 KiB a batch. FILE is a JSON array (a string element is sent as it is, any other
element as its JSON) or one body per line; blank lines are skipped. A body that is not valid
JSON is still sent, as it is: the pipeline dead-letters it (body.not_json), which is how to
test that path. Entries SQS fails on its side are sent again; prints how many were sent.

  --queue NAME|URL     the queue, by name (GetQueueUrl) or URL
                       (default: QUEUE_URL, else login-queue)                 [QUEUE_URL]
  --sqs-endpoint URL   a local endpoint (npm start --keep, LocalStack); default: the queue
                       URL's own, else the region's                 [AWS_ENDPOINT_URL_SQS]
  -h, --help           this text

An endpoint on this machine needs no AWS account: region and credentials default to local ones.

Examples:
  npm run send -- ../shared/fixtures/login-queue-takehome/messages.jsonl
  printf '%s\\n' '{"user_id":"u1"}' | npm run send -- - --queue login-queue
`;

/** The origin of a queue URL flag (as text: emulators' hosts such as sqs.us-east-1.127.0.0.1 are no WHATWG URL), or undefined for a name. */
const originOf = (queue: string) => /^https?:\/\/[^/]+/.exec(queue)?.[0];

runCommand('send', async () => {
  const args = parseCommandLine(HELP, {
    allowPositionals: true,
    options: {
      queue: { type: 'string', default: process.env.QUEUE_URL || 'login-queue' },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS || undefined },
    },
  });
  if (args === undefined) return 0;
  const { values, positionals } = args;
  const [file, ...extra] = positionals;
  if (file === undefined) throw new UsageError('give a FILE of message bodies (- for stdin)');
  if (extra.length > 0) throw new UsageError(`one FILE only, got also "${extra.join(' ')}"`);
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const { bodies, notJson } = parseBodies(text);
  const queue = values.queue;
  const origin = originOf(queue);
  const endpoint = values['sqs-endpoint'] ?? origin;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint))
    throw new UsageError(`--sqs-endpoint must be an http(s) URL, got "${endpoint}"`);
  const label = sqsEndpointLabel(endpoint);
  // An endpoint on this machine gets a region and dummy credentials (localEndpointDefaults).
  const sqs = sqsClientFor(endpoint);
  const queueUrl = origin ? queue : await resolveQueueUrl(sqs, label, queue);
  if (notJson > 0)
    process.stderr.write(
      `${notJson} of the ${bodies.length} bodies are not valid JSON: sent as they are (the pipeline dead-letters them as body.not_json)\n`,
    );
  const progress = countProgress(bodies.length, 'messages');
  progress.show(0, true);
  try {
    const result = await sendBodies(sqs, queueUrl, bodies, {
      onSent: (sent) => progress.show(sent),
    });
    progress.show(result.sent, true);
    progress.end();
    const again =
      result.retried > 0 ? ` (${result.retried} entries sent again after SQS failed them)` : '';
    process.stdout.write(
      `sent ${result.sent} of ${bodies.length} messages to ${queueUrl}${again}\n`,
    );
    if (result.refused.length === 0) return 0;
    const list = result.refused.map((r) => `#${r.index + 1} ${r.code}`).join(', ');
    process.stderr.write(`SQS refused ${result.refused.length} bodies (in file order): ${list}\n`);
    return 1;
  } catch (error) {
    progress.end();
    if (!(error instanceof SendFailedError)) throw error;
    throw new UnreachableError(
      `SQS at ${label}: ${error.message}; sent ${error.sent} of ${bodies.length}, the first not sent is body #${error.firstUnsent + 1} in file order`,
      { cause: error },
    );
  }
});
