/**
 * Reaching SQS before changing anything: does the queue exist, what is its URL or ARN. Every
 * failure is an UnreachableError whose message names the endpoint and the queue that failed.
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UnreachableError } from '../core/errors';
import { reasonOf } from '../core/reason';

/** Runs one SQS call; a failure becomes UnreachableError "SQS at <endpoint>: <what>: <reason>". */
export async function sqsCall<T>(
  endpoint: string,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new UnreachableError(`SQS at ${endpoint}: ${what}: ${reasonOf(error)}`, {
      cause: error,
    });
  }
}

/** The URL of the queue called `name` at the endpoint (GetQueueUrl). */
export function resolveQueueUrl(sqs: SQSClient, endpoint: string, name: string): Promise<string> {
  return sqsCall(endpoint, `queue "${name}"`, async () => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error('no QueueUrl in the reply');
    return QueueUrl;
  });
}

/** True when SQS answered that the queue does not exist. */
function isMissingQueue(error: unknown): boolean {
  const { name, Code } = (error ?? {}) as { name?: string; Code?: string };
  return name === 'QueueDoesNotExist' || /NonExistentQueue/.test(`${name} ${Code}`);
}

/**
 * Why a queue URL may not be found though the queue is there: endpoints such as LocalStack
 * and fauxqs know a queue by the URL they hand out (host, account), not by its last segment.
 */
async function missingQueueHint(sqs: SQSClient, endpoint: string, queueUrl: string) {
  const name = queueUrl.split('/').filter(Boolean).pop() ?? '';
  const found = await sqs
    .send(new GetQueueUrlCommand({ QueueName: name }))
    .then(({ QueueUrl }) => QueueUrl)
    .catch(() => undefined);
  return found === undefined || found === queueUrl
    ? `no queue named "${name}" at ${endpoint} either`
    : `${endpoint} knows queue "${name}" as ${found}: give that URL, or the queue's name`;
}

/** The ARN of an existing queue; throws UnreachableError naming the URL when it does not exist. */
export function queueArnOf(sqs: SQSClient, endpoint: string, queueUrl: string): Promise<string> {
  return sqsCall(endpoint, `queue ${queueUrl}`, async () => {
    try {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      );
      if (!Attributes?.QueueArn) throw new Error('no QueueArn in the reply');
      return Attributes.QueueArn;
    } catch (error) {
      if (!isMissingQueue(error)) throw error;
      const hint = await missingQueueHint(sqs, endpoint, queueUrl);
      throw new Error(`${reasonOf(error)} (${hint})`, { cause: error });
    }
  });
}
