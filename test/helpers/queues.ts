/**
 * Reading queues over the real SQS protocol in tests.
 */
import { type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

export function sqsClientFor(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
}

/** Receives until the queue has nothing visible; messages stay in flight (not deleted). */
export async function drainVisible(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        VisibilityTimeout: 300,
      }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}
