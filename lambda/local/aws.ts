/**
 * Local AWS edges for running the Lambda bundle on one machine: an SQS endpoint speaking the
 * real protocol (fauxqs) with a source queue and a DLQ (redrive after maxReceiveCount), and a
 * Secrets Manager stand-in holding the masking key. The bundle only sees endpoint variables.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { createSqsClient } from '../aws/sqs-client';
import { type LocalSecretsManager, startLocalSecretsManager } from './secrets-manager';

export interface LocalAwsOptions {
  readonly queueName?: string;
  readonly maxReceiveCount?: number;
  /** Source queue visibility timeout, seconds. */
  readonly visibilityTimeout?: number;
  /** The masking secret's JSON; a fresh random key ring when omitted. */
  readonly maskingSecret?: string;
  readonly sqsPort?: number;
}

export interface LocalAws {
  readonly sqsEndpoint: string;
  readonly secretsManager: LocalSecretsManager;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly maskingSecretArn: string;
  /** AWS SDK settings for clients of these endpoints (region, dummy credentials, endpoints). */
  readonly awsEnv: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** Dummy credentials: the local endpoints do not check signatures. */
export function localAwsEnv(sqsEndpoint: string, secretsEndpoint: string): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    // The SDK warns that it will need Node 22 from 2027; Lambda runs 22, local runs may be on 20.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** A new random key ring in the masking secret format (key id "local"). */
export function randomMaskingSecret(): string {
  const material = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
  return JSON.stringify({ current: 'local', local: material });
}

/**
 * fauxqs on 127.0.0.1 only: it is unauthenticated and holds raw bodies. (Its startFauxqs
 * listens on every interface, so the app is listened here and the queues made over the
 * protocol.) Resolves to its endpoint and a stop function.
 */
async function startSqsEndpoint(port: number) {
  const app = buildApp({ logger: false });
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fauxqs has no port');
  return { endpoint: `http://127.0.0.1:${address.port}`, stop: () => app.close() };
}

/** Starts fauxqs and the Secrets Manager stand-in, with the queues and the masking secret. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const name = options.queueName ?? 'login-queue';
  const sqs = await startSqsEndpoint(options.sqsPort ?? 0);
  const secretsManager = await startLocalSecretsManager().catch(async (error: unknown) => {
    await sqs.stop();
    throw error;
  });
  const env = localAwsEnv(sqs.endpoint, secretsManager.endpoint);
  const client = createSqsClient({
    endpoint: sqs.endpoint,
    region: env.AWS_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const create = async (queueName: string, attributes: Record<string, string>) => {
    const { QueueUrl = '' } = await client.send(
      new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }),
    );
    const { Attributes = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { queueUrl: QueueUrl, queueArn: Attributes.QueueArn ?? '' };
  };
  const dlq = await create(`${name}-dlq`, { MessageRetentionPeriod: '1209600' });
  const queue = await create(name, {
    VisibilityTimeout: String(options.visibilityTimeout ?? 30),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlq.queueArn,
      maxReceiveCount: String(options.maxReceiveCount ?? 5),
    }),
  });
  client.destroy();
  const maskingSecretArn = secretsManager.put(
    'login-queue/masking-key',
    options.maskingSecret ?? randomMaskingSecret(),
  );
  return {
    sqsEndpoint: sqs.endpoint,
    secretsManager,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    dlqUrl: dlq.queueUrl,
    maskingSecretArn,
    awsEnv: env,
    async stop() {
      await Promise.all([sqs.stop(), secretsManager.stop()]);
    },
  };
}
