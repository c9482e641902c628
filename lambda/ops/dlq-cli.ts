/**
 * `npm run dlq -- --peek`: dead-lettered messages by reason, with their message ids; never
 * a body. `npm run redrive`: moves them back to the source queue (see dead-letters.ts).
 */

import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { runCommand } from '../command';
import { sqsClientFor } from './cli';
import { peekDeadLetters, redrive } from './dead-letters';

const HELP = `Usage: npm run dlq -- --peek [options]      counts and message ids by reason
       npm run redrive -- [options]           move every dead letter back to the queue

  --dlq-url URL        the dead-letter queue                         [DLQ_URL]
  --queue-url URL      the source queue (redrive)                    [QUEUE_URL]
  --sqs-endpoint URL   a local endpoint (LocalStack, npm start --keep) [AWS_ENDPOINT_URL_SQS]
`;

runCommand('dlq', async () => {
  const { values } = parseArgs({
    options: {
      peek: { type: 'boolean' },
      redrive: { type: 'boolean' },
      'dlq-url': { type: 'string', default: process.env.DLQ_URL },
      'queue-url': { type: 'string', default: process.env.QUEUE_URL },
      'sqs-endpoint': { type: 'string', default: process.env.AWS_ENDPOINT_URL_SQS },
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
  const result = await redrive(sqs, {
    dlqUrl,
    dlqArn: await arnOf(dlqUrl),
    queueUrl,
    queueArn: await arnOf(queueUrl),
  });
  process.stdout.write(
    result.method === 'StartMessageMoveTask'
      ? `started an SQS message move task (${result.taskHandle}); follow it with aws sqs list-message-move-tasks\n`
      : `moved ${result.moved} messages back to ${queueUrl}\n`,
  );
  return 0;
});
