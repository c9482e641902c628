/**
 * `npm run dlq -- --peek`: dead-lettered messages by reason, with their message ids; never
 * a body. `npm run redrive`: moves them back to the source queue (see dead-letters.ts).
 */

import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { runCommand } from '../command';
import { parseKeyRing } from '../key-ring';
import { signMarker } from '../redrive-marker';
import { readSecret, sqsClientFor } from './cli';
import { peekDeadLetters, redrive } from './dead-letters';

const HELP = `Usage: npm run dlq -- --peek [options]      counts and message ids by reason
       npm run redrive -- [options]           move every dead letter back to the queue

  --dlq-url URL        the dead-letter queue                         [DLQ_URL]
  --queue-url URL      the source queue (redrive)                    [QUEUE_URL]
  --sqs-endpoint URL   a local endpoint (LocalStack, npm start --keep) [AWS_ENDPOINT_URL_SQS]
  --masking-secret-id ID  the masking key ring (redrive): signs the redrive marker of
                       messages the queue's redrive policy moved, so they keep their id
                                                                     [MASKING_SECRET_ID]
  MASKING_SECRET       the ring inline, as JSON (local runs)
`;

runCommand('dlq', async () => {
  const { values } = parseArgs({
    options: {
      peek: { type: 'boolean' },
      redrive: { type: 'boolean' },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL },
      'queue-url': { type: 'string', default: process.env.QUEUE_URL },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS },
      'masking-secret-id': { type: 'string', default: process.env.MASKING_SECRET_ID },
      help: { type: 'boolean' },
    },
  });
  const dlqUrl = values['dlq-url'];
  if (values.help || dlqUrl === undefined || (!values.peek && !values.redrive)) {
    process.stderr.write(HELP);
    return values.help ? 0 : 2;
  }
  const sqs = sqsClientFor(values['sqs-endpoint']);
  if (values.peek) {
    const peek = await peekDeadLetters(sqs, dlqUrl);
    process.stdout.write(`${JSON.stringify(peek, null, 2)}\n`);
    return 0;
  }
  const queueUrl = values['queue-url'];
  if (queueUrl === undefined) throw new Error('--queue-url (or QUEUE_URL) is needed to redrive');
  const arnOf = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn ?? '';
  const maskingId = values['masking-secret-id'];
  const ring =
    process.env.MASKING_SECRET || maskingId
      ? parseKeyRing(
          await readSecret(process.env.MASKING_SECRET, maskingId, 'the masking key ring'),
        )
      : undefined;
  const result = await redrive(
    sqs,
    { dlqUrl, dlqArn: await arnOf(dlqUrl), queueUrl, queueArn: await arnOf(queueUrl) },
    { sign: ring && ((id) => signMarker(ring.current, id)) },
  );
  process.stdout.write(
    result.method === 'StartMessageMoveTask'
      ? `started an SQS message move task (${result.taskHandle}); follow it with aws sqs list-message-move-tasks\n`
      : `moved ${result.moved} messages back to ${queueUrl}; deleted ${result.duplicatesDropped} further copies of messages moved\n`,
  );
  return 0;
});
