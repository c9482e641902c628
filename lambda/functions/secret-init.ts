/**
 * Lambda entry point that gives the masking key secret its first key ring; the CDK stack runs
 * it as a deploy-time trigger, before the event source mapping exists. A secret that already
 * has a value is never touched. Throws on failure, which fails the deployment.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { initialiseSecret, newKeyRing } from '../aws/secret-init';
import { createLogger } from '../aws/telemetry';
import { loadSecretInitConfig, loadTelemetryConfig } from './config';

const config = loadSecretInitConfig();
const logger = createLogger(loadTelemetryConfig());
const secrets = new SecretsManagerClient({});

export const handler = async (): Promise<{ maskingKeyRing: 'created' | 'kept' }> => {
  const maskingKeyRing = await initialiseSecret(secrets, config.maskingSecretId, newKeyRing);
  logger.info('masking key secret initialised', { maskingKeyRing });
  return { maskingKeyRing };
};
