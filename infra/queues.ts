/**
 * The source queue of login events, its dead-letter queue, the customer-managed key that
 * encrypts both (the bodies are raw PII), and the managed policy for whoever sends the events.
 */
import { Duration } from 'aws-cdk-lib';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface LoginQueuesProps {
  /** The source queue's visibility timeout (validated by resolveProps). */
  readonly visibilityTimeout: Duration;
  /** Receives before SQS moves a message to the dead-letter queue. */
  readonly maxReceiveCount: number;
}

/**
 * Creates the queues, their key and the producer policy directly in `scope` (the stack), under
 * the ids QueueKey, DeadLetterQueue, Queue and ProducerPolicy: their logical ids are a contract.
 */
export class LoginQueues {
  readonly key: Key;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /** Attach to the producers of login events. */
  readonly producerPolicy: ManagedPolicy;

  constructor(scope: Construct, props: LoginQueuesProps) {
    // The bodies are raw PII: a customer-managed key, so reading them takes a grant on it.
    this.key = new Key(scope, 'QueueKey', {
      description: 'login-queue: message bodies (raw PII) in the queue and its DLQ',
      enableKeyRotation: true,
    });
    this.deadLetterQueue = new Queue(scope, 'DeadLetterQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(scope, 'Queue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
    // For whoever sends login events: SSE-KMS needs the key's data-key actions too.
    this.producerPolicy = new ManagedPolicy(scope, 'ProducerPolicy', {
      description: 'Attach to the producers of login events: send to the login queue',
      statements: [
        new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
        new PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.key.keyArn],
        }),
      ],
    });
  }
}
