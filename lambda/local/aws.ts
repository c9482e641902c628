/**
 * Local AWS edges for running the Lambda bundle on one machine: an SQS endpoint speaking the
 * real protocol (fauxqs) with a source queue and a DLQ (redrive after maxReceiveCount), and a
 * Secrets Manager stand-in holding the masking key. The bundle only sees endpoint variables.
 */
import { startFauxqs } from 'fauxqs';
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

/** Starts fauxqs and the Secrets Manager stand-in, with the queues and the masking secret. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const name = options.queueName ?? 'login-queue';
  const sqs = await startFauxqs({ port: options.sqsPort ?? 0, logger: false });
  const secretsManager = await startLocalSecretsManager();
  const dlq = sqs.createQueue(`${name}-dlq`, { attributes: { MessageRetentionPeriod: '1209600' } });
  const queue = sqs.createQueue(name, {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeout ?? 30),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.queueArn,
        maxReceiveCount: String(options.maxReceiveCount ?? 5),
      }),
    },
  });
  const maskingSecretArn = secretsManager.put(
    'login-queue/masking-key',
    options.maskingSecret ?? randomMaskingSecret(),
  );
  return {
    sqsEndpoint: sqs.address,
    secretsManager,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    dlqUrl: dlq.queueUrl,
    maskingSecretArn,
    awsEnv: localAwsEnv(sqs.address, secretsManager.endpoint),
    async stop() {
      await Promise.all([sqs.stop(), secretsManager.stop()]);
    },
  };
}
