import {
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseKeyRing } from '../../lambda/key-ring';
import { initialiseSecret, newKeyRing } from '../../lambda/secret-init';

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => secretsManager.reset());
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });

describe('initialiseSecret', () => {
  it('writes the first value of a secret that has none', async () => {
    // Arrange: CloudFormation created the secret without a value.
    secretsManager.on(DescribeSecretCommand).resolves({ VersionIdsToStages: {} });
    secretsManager.on(PutSecretValueCommand).resolves({});

    // Act
    const outcome = await initialiseSecret(client(), 'mask', () => 'first');

    // Assert
    expect(outcome).toBe('created');
    const [put] = secretsManager.commandCalls(PutSecretValueCommand);
    expect(put?.args[0].input).toMatchObject({ SecretId: 'mask', SecretString: 'first' });
    expect(put?.args[0].input.ClientRequestToken).toMatch(/^.{32,64}$/);
  });

  it('leaves a secret that has a current value untouched, whatever the template says', async () => {
    // Arrange: an operator rotated the ring; an older version is kept as AWSPREVIOUS.
    secretsManager.on(DescribeSecretCommand).resolves({
      VersionIdsToStages: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] },
    });

    // Act
    const outcome = await initialiseSecret(client(), 'mask', () => 'would overwrite');

    // Assert
    expect(outcome).toBe('kept');
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('keeps the value a concurrent initialiser wrote first', async () => {
    secretsManager.on(DescribeSecretCommand).resolves({});
    secretsManager
      .on(PutSecretValueCommand)
      .rejects(Object.assign(new Error('version exists'), { name: 'ResourceExistsException' }));
    await expect(initialiseSecret(client(), 'mask', () => 'second')).resolves.toBe('kept');
  });

  it('fails the deployment on any other error', async () => {
    secretsManager
      .on(DescribeSecretCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(initialiseSecret(client(), 'mask', newKeyRing)).rejects.toThrow('denied');
  });
});

describe('newKeyRing', () => {
  it('makes a ring the handler accepts, with fresh material each time', () => {
    const first = newKeyRing();
    expect(parseKeyRing(first).current.id).toBe('k1');
    expect(newKeyRing()).not.toBe(first);
  });
});
