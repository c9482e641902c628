/**
 * Factories for SQS Lambda events.
 */
import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

export const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:login-queue';

/** One SQS record as Lambda delivers it; `overrides` replace any field. */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.UTC(2026, 10, 22, 12, 0, 0)),
      SenderId: '000000000000',
      ApproximateFirstReceiveTimestamp: String(Date.UTC(2026, 10, 22, 12, 0, 1)),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE_ARN,
    awsRegion: 'us-east-1',
    ...overrides,
  };
}

/** An event of one record per body. */
export function sqsEvent(bodies: readonly string[]): SQSEvent {
  return { Records: bodies.map((body) => sqsRecord(body)) };
}

/** A valid login body; `fields` replace or add fields (undefined removes one). */
export function loginBody(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    user_id: '424cdd21-063a-43a7-b91b-7ca1a833afae',
    app_version: '2.3.0',
    device_type: 'android',
    ip: '199.172.111.135',
    locale: 'RU',
    device_id: '593-47-5928',
    ...fields,
  });
}

/** A masking secret in the documented format. */
export function maskingSecret(current = 'k1', extra: Record<string, string> = {}): string {
  return JSON.stringify({
    current,
    [current]: `${current}-test-key-material-0123456789abcdefghijklmnop`,
    ...extra,
  });
}
