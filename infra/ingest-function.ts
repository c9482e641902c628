/**
 * The SQS function: reads batches of login events from the source queue (partial batch
 * failures), writes masked rows as the writer role, dead-letters invalid records itself, and
 * backs records off through an outage.
 */
import { type Duration, Validations } from 'aws-cdk-lib';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { Env } from '../lambda/contract/env';
import { WRITER_ROLE } from '../lambda/contract/roles';
import { parseRecoveryPublicKey } from '../lambda/core/recovery';
import { executionRole, loginQueueFunction, TELEMETRY } from './function-defaults';
import type { MaskingKeyRing } from './key-secrets';
import { allowSecretUse, SECRET_USE } from './keys';
import type { LoginDatabase } from './login-database';
import type { LoginQueues } from './queues';

export interface IngestFunctionProps {
  readonly queues: LoginQueues;
  readonly masking: MaskingKeyRing;
  readonly database: LoginDatabase;
  readonly timeout: Duration;
  /** Records per invocation. */
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  /** Concurrent invocations by the event source mapping. */
  readonly maxConcurrency: number;
  /** X-Ray active tracing. @default false */
  readonly tracing?: boolean;
  /** "<keyId>:<base64url>" to seal ip/device_id with. @default none (nothing sealed) */
  readonly recoveryPublicKey?: string;
}

/**
 * Creates the function in `scope` (the stack) under the id Handler, with its grants and its
 * event source mapping. Throws KeyRingError for a malformed recovery public key.
 */
export class IngestFunction {
  readonly function: NodejsFunction;
  /** The event source mapping: what deploy-time work must precede. */
  readonly mapping: EventSourceMapping;

  constructor(scope: Construct, props: IngestFunctionProps) {
    const { queues, masking, database } = props;
    if (props.recoveryPublicKey !== undefined) parseRecoveryPublicKey(props.recoveryPublicKey);
    const handler = loginQueueFunction(scope, 'Handler', {
      entry: 'handler',
      xray: props.tracing,
      description: 'SQS login events -> masked rows in PostgreSQL',
      timeout: props.timeout,
      environment: {
        ...database.environment,
        ...database.loginEnvironment(WRITER_ROLE),
        ...TELEMETRY,
        [Env.MASKING_SECRET_ID]: masking.secret.secretArn,
        [Env.DLQ_URL]: queues.deadLetterQueue.queueUrl,
        [Env.SOURCE_QUEUE_URL]: queues.queue.queueUrl,
        ...(props.recoveryPublicKey ? { [Env.RECOVERY_PUBLIC_KEY]: props.recoveryPublicKey } : {}),
      },
      ...database.network,
    });
    masking.secret.grantRead(handler);
    allowSecretUse(
      masking.key,
      'HandlerReadsMaskingKeyRing',
      executionRole(handler),
      SECRET_USE.read,
    );
    database.grantLogin(handler, WRITER_ROLE);
    queues.deadLetterQueue.grantSendMessages(handler);
    // The handler backs records off (and deletes those already dead-lettered) itself when a
    // batch fails for a systemic reason; stated here rather than left to the event source's grant.
    queues.queue.grant(handler, 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage');
    handler.addEventSource(
      new SqsEventSource(queues.queue, {
        batchSize: props.batchSize,
        maxBatchingWindow: props.maxBatchingWindow,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
    database.allowConnectionsFrom(handler, 'secretsManager', 'sqs');
    const mapping = handler.node.children.find((child) => child instanceof EventSourceMapping);
    if (mapping === undefined) throw new Error('the handler has no event source mapping');
    for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
      Validations.of(handler).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason:
          "From grantSendMessages on the SSE-KMS dead-letter queue: the data-key actions SQS needs, on the queue's key alone.",
      });
    }
    this.function = handler;
    this.mapping = mapping;
  }
}
