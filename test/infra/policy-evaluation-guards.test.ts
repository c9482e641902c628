/**
 * The policy evaluation's own guards: a condition the evaluator cannot see must make a check
 * fail, never pass (test/helpers/policy-evaluation.ts).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { resolverFor } from '../helpers/cfn-resolve';
import { evaluate, type PolicyDocument, type Principal } from '../helpers/policy-evaluation';

const ACCOUNT = '123456789012';
const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/key-guard`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/Validator`;
const validator: Principal = {
  name: 'Validator',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Validator/session`,
  account: ACCOUNT,
  identityPolicies: [],
};
// Decrypt only for Secrets Manager's key-validation calls.
const keyPolicy: PolicyDocument = {
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: {
        StringEquals: { 'kms:EncryptionContext:SecretVersionId': 'RequestToValidateKeyAccess' },
      },
    },
  ],
};
const decrypt = (versionId: string) => ({
  action: 'kms:Decrypt',
  resource: KEY,
  resourcePolicy: keyPolicy,
  context: { 'kms:EncryptionContext:SecretVersionId': versionId },
});

describe('policy evaluation guards', () => {
  it('sees kms:EncryptionContext:<name>, which the evaluator alone drops, answering "denied" for any value', async () => {
    // Arrange: the evaluator as it comes, with the same question.
    const alone = await runSimulation(
      {
        request: {
          principal: validator.arn,
          action: 'kms:Decrypt',
          resource: { resource: KEY, accountId: ACCOUNT },
          contextVariables: {
            'kms:EncryptionContext:SecretVersionId': 'RequestToValidateKeyAccess',
          },
        },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: keyPolicy,
      },
      {},
    );
    // Assert: alone, it drops the key and denies, so a "cannot decrypt" check would pass blind.
    expect(alone.resultType === 'single' && alone.result.ignoredContextKeys).toEqual([
      'kms:EncryptionContext:SecretVersionId',
    ]);
    expect(alone.resultType === 'single' && alone.overallResult).toBe('ImplicitlyDenied');
    // Through the guard, the answer depends on the value.
    expect(await evaluate(validator, decrypt('RequestToValidateKeyAccess'))).toBe('Allowed');
    expect(await evaluate(validator, decrypt('f3a9e8c2-5b1d-4e7a-9c3f-2d8b6a1e0f47'))).toBe(
      'ImplicitlyDenied',
    );
  });

  it('fails the check, rather than answer, when the evaluator ignores a context key it was given', async () => {
    await expect(
      evaluate(validator, {
        ...decrypt('RequestToValidateKeyAccess'),
        context: { 'secretsmanager:VersionStage': 'AWSCURRENT' },
      }),
    ).rejects.toThrow(/ignored the context keys secretsmanager:VersionStage of kms:Decrypt/);
    // An encryption context on a call that is not KMS's is not carried either.
    await expect(
      evaluate(validator, {
        action: 'secretsmanager:GetSecretValue',
        resource: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:s-Ab12Cd`,
        context: { 'kms:EncryptionContext:SecretARN': 'x' },
      }),
    ).rejects.toThrow(/ignored the context keys kms:EncryptionContext:SecretARN/);
  });

  it('refuses policies whose condition keys no question supplies', async () => {
    const fromEndpoint: PolicyDocument = {
      Statement: [
        {
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1' } },
        },
      ],
    };
    await expect(
      evaluate({ ...validator, identityPolicies: [fromEndpoint] }, decrypt('v')),
    ).rejects.toThrow(/condition keys no question models \(aws:SourceVpce\)/);
  });

  it('refuses a request the evaluator cannot check', async () => {
    await expect(evaluate(validator, { ...decrypt('v'), action: 'kms:Decrypts' })).rejects.toThrow(
      /refused its input/,
    );
  });
});

describe('template resolution', () => {
  const resolve = resolverFor(
    {
      Resources: {
        Key: { Type: 'AWS::KMS::Key' },
        Bucket: { Type: 'AWS::S3::Bucket' },
      },
    },
    { account: ACCOUNT, region: 'eu-west-1', stackName: 'S' },
  );

  it('resolves references, attributes, joins, substitutions and the stack id', () => {
    expect(
      resolve({
        'Fn::Join': [
          '/',
          [
            { 'Fn::GetAtt': ['Key', 'Arn'] },
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
            { 'Fn::Sub': '${AWS::Partition}-${Key}' },
            { 'Fn::Select': [1, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
          ],
        ],
      }),
    ).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/key-Key/aws-key-Key/S`);
  });

  it('throws on what it cannot resolve rather than guess', () => {
    expect(() => resolve({ 'Fn::GetAtt': ['Bucket', 'Arn'] })).toThrow(
      /cannot resolve Arn of Bucket \(AWS::S3::Bucket\)/,
    );
    expect(() => resolve({ 'Fn::If': ['c', 'a', 'b'] })).toThrow(/unsupported Fn::If/);
    expect(() => resolve({ Ref: 'Missing' })).toThrow(/no resource Missing/);
  });
});
