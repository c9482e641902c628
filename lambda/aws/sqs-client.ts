/**
 * Every SQS client of the project is made here, with connection and request timeouts: an
 * endpoint that accepts a connection and never answers then fails like one that refuses,
 * instead of holding a call (and the run, or the invocation) forever.
 */
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';

/** How long a TCP connection to SQS may take, ms. */
export const SQS_CONNECTION_TIMEOUT_MS = 3_000;
/**
 * How long one SQS request may go unanswered, ms. The project's receives are short polls (at
 * most WaitTimeSeconds 1), so no answer in this time means no answer at all.
 */
export const SQS_REQUEST_TIMEOUT_MS = 10_000;

/**
 * An SQS client with the timeouts above. It sends to its configured endpoint (the region's, or
 * AWS_ENDPOINT_URL_SQS), not to the host inside a queue URL: emulators hand out URLs with hosts
 * that may not resolve.
 */
export function createSqsClient(config: SQSClientConfig = {}): SQSClient {
  return new SQSClient({
    useQueueUrlAsEndpoint: false,
    requestHandler: {
      connectionTimeout: SQS_CONNECTION_TIMEOUT_MS,
      requestTimeout: SQS_REQUEST_TIMEOUT_MS,
      // Without it the handler only warns when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    ...config,
  });
}
