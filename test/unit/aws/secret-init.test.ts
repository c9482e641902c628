import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_VERSION, initialiseSecret, newKeyRing } from '../../../lambda/aws/secret-init';
import { parseKeyRing } from '../../../lambda/core/key-ring';

const secretsManager = mockClient(SecretsManagerClient);
afterEach(() => secretsManager.reset());
const client = () => new SecretsManagerClient({ region: 'eu-west-1' });
const named = (name: string, message: string) => Object.assign(new Error(message), { name });
// What Secrets Manager answers a repeated token when the caller cannot decrypt the version.
const kmsDenied = () => named('AccessDeniedException', 'Access to KMS is not allowed');

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
    expect(put?.args[0].input.ClientRequestToken).toBe(FIRST_VERSION);
    expect(FIRST_VERSION).toMatch(/^.{32,64}$/);
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

  it('keeps the value a racing initialiser wrote first, though its repeated token is refused as AccessDenied', async () => {
    // Arrange: both saw no value; the other wrote the first version before this one.
    secretsManager
      .on(DescribeSecretCommand)
      .resolvesOnce({ VersionIdsToStages: {} })
      .resolves({ VersionIdsToStages: { [FIRST_VERSION]: ['AWSCURRENT'] } });
    secretsManager.on(PutSecretValueCommand).rejects(kmsDenied());

    // Act
    const outcome = await initialiseSecret(client(), 'mask', () => 'second');

    // Assert: kept, confirmed by DescribeSecret, and no value was ever read.
    expect(outcome).toBe('kept');
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(secretsManager.commandCalls(DescribeSecretCommand)).toHaveLength(2);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('counts a write whose answer was lost as done once DescribeSecret shows its version', async () => {
    // Arrange: the request arrived, the response did not (the SDK's retry would repeat the token).
    secretsManager
      .on(DescribeSecretCommand)
      .resolvesOnce({})
      .resolves({ VersionIdsToStages: { [FIRST_VERSION]: ['AWSCURRENT'] } });
    secretsManager.on(PutSecretValueCommand).rejects(named('TimeoutError', 'socket hang up'));

    // Act / Assert
    await expect(initialiseSecret(client(), 'mask', () => 'first')).resolves.toBe('kept');
  });

  it('still keeps a first value when Secrets Manager answers ResourceExistsException', async () => {
    secretsManager
      .on(DescribeSecretCommand)
      .resolvesOnce({})
      .resolves({ VersionIdsToStages: { [FIRST_VERSION]: ['AWSCURRENT'] } });
    secretsManager.on(PutSecretValueCommand).rejects(named('ResourceExistsException', 'exists'));
    await expect(initialiseSecret(client(), 'mask', () => 'second')).resolves.toBe('kept');
  });

  it('fails the deployment on AccessDenied when no first version exists: a missing grant is not success', async () => {
    // Arrange: the key policy does not let it encrypt; nothing was written.
    secretsManager.on(DescribeSecretCommand).resolves({ VersionIdsToStages: {} });
    secretsManager.on(PutSecretValueCommand).rejects(kmsDenied());

    // Act / Assert
    await expect(initialiseSecret(client(), 'mask', newKeyRing)).rejects.toThrow(
      'Access to KMS is not allowed',
    );
  });

  it("rethrows the write's own error when the confirming DescribeSecret fails too", async () => {
    secretsManager
      .on(DescribeSecretCommand)
      .resolvesOnce({})
      .rejects(named('InternalServiceError', 'describe failed'));
    secretsManager.on(PutSecretValueCommand).rejects(kmsDenied());
    await expect(initialiseSecret(client(), 'mask', newKeyRing)).rejects.toThrow(
      'Access to KMS is not allowed',
    );
  });

  it('fails the deployment on any other error', async () => {
    secretsManager.on(DescribeSecretCommand).rejects(named('AccessDeniedException', 'denied'));
    await expect(initialiseSecret(client(), 'mask', newKeyRing)).rejects.toThrow('denied');
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});

describe('newKeyRing', () => {
  it('makes a ring the handler accepts, with fresh material each time', () => {
    const first = newKeyRing();
    expect(parseKeyRing(first).current.id).toBe('k1');
    expect(newKeyRing()).not.toBe(first);
  });
});
