/**
 * `npm run localstack:send`: sends generated login events (a few invalid) to the queue of
 * the stack deployed on LocalStack, waits for the function to drain it, then prints the
 * rows in PostgreSQL and the dead letters by reason.
 * Reads the queue URLs from cdk.out/localstack-outputs.json (written by localstack:deploy).
 */
import { readFileSync } from 'node:fs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { peekDeadLetters } from '../lambda/aws/dead-letters';
import { queueDepth } from '../lambda/aws/source-queue';
import { createSqsClient } from '../lambda/aws/sqs-client';
import { withClient } from '../lambda/db/pool';
import { generateBodies } from '../lambda/local/generate';

const endpoint = process.env.AWS_ENDPOINT_URL ?? 'http://localhost:4566';
const databaseUrl =
  process.env.DATABASE_URL ?? 'postgres://postgres:postgres@localhost:5433/logins';
const count = Number(process.argv[2] ?? 50);

const outputs = JSON.parse(
  readFileSync(new URL('../cdk.out/localstack-outputs.json', import.meta.url), 'utf8'),
);
const { QueueUrl: queueUrl, DeadLetterQueueUrl: dlqUrl } = outputs.LoginQueueLocal as Record<
  string,
  string
>;
const sqs = createSqsClient({
  endpoint,
  region: process.env.AWS_REGION ?? 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

const bodies = generateBodies(count, { seed: Date.now() });
for (let i = 0; i < bodies.length; i += 10) {
  const entries = bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body }));
  await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
}
console.log(`sent ${count} messages to ${queueUrl}`);
const deadline = Date.now() + 120_000;
while ((await queueDepth(sqs, queueUrl)) > 0) {
  if (Date.now() > deadline)
    throw new Error('the queue did not drain in 2 minutes: check the function logs');
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
const { rows } = await withClient(databaseUrl, (client) =>
  client.query('SELECT count(*)::int AS n FROM user_logins'),
);
console.log(`rows in user_logins: ${rows[0].n}`);
console.log('dead letters:', (await peekDeadLetters(sqs, dlqUrl)).byReason);
