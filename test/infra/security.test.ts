import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIRST_VERSION } from '../../lambda/contract/secrets';
import { template } from '../helpers/stacks';

let aws: Template;
beforeAll(() => {
  aws = template('aws');
});

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Principal?: { AWS?: unknown };
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Properties: Record<string, unknown> };

const resource = (prefix: string, type?: string): [string, Resource] => {
  const found = Object.entries(aws.toJSON().Resources as Record<string, Resource>).filter(
    ([id, r]) => id.startsWith(prefix) && (type === undefined || r.Type === type),
  );
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
};
const keyPolicy = (prefix: string): Statement[] =>
  (resource(prefix)[1].Properties.KeyPolicy as { Statement: Statement[] }).Statement;
const actions = (statement: Statement): string[] => [statement.Action].flat();
const roleId = (prefix: string) => resource(prefix, 'AWS::IAM::Role')[0];
const keyId = (prefix: string) => resource(prefix, 'AWS::KMS::Key')[0];
const principalRole = (statement: Statement) =>
  (statement.Principal?.AWS as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt']?.[0];
// Secrets Manager's key-validation calls, which open no version (policy-evaluation.test.ts).
const validatesOnly = (s: Statement) =>
  s.Condition?.StringEquals?.['kms:EncryptionContext:SecretVersionId'] ===
  'RequestToValidateKeyAccess';
/** Who may decrypt with the key, by the key policy: role logical ids, or 'account'. */
const decrypters = (prefix: string) =>
  keyPolicy(prefix)
    .filter(
      (s) =>
        s.Effect === 'Allow' &&
        !validatesOnly(s) &&
        actions(s).some((a) => a === 'kms:Decrypt' || a === 'kms:*'),
    )
    .map((s) => principalRole(s) ?? 'account')
    .sort();
const rolePolicies = (role: string): Statement[] =>
  Object.values(aws.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify((policy as Resource).Properties.Roles).includes(role))
    .flatMap(
      (policy) =>
        ((policy as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );

describe('key secrets', () => {
  it('encrypts each key secret under its own rotating customer-managed key', () => {
    for (const [secret, key] of [
      ['MaskingKey', 'MaskingSecretKey'],
      ['RecoveryKey', 'RecoverySecretKey'],
    ] as const) {
      const [, found] = resource(secret, 'AWS::SecretsManager::Secret');
      expect(found.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId(key), 'Arn'] });
      expect(found.Properties.GenerateSecretString).toBeUndefined();
      expect(resource(key)[1].Properties.EnableKeyRotation).toBe(true);
    }
  });

  it('gives the account key administration only: no principal decrypts through IAM alone', () => {
    for (const key of ['MaskingSecretKey', 'RecoverySecretKey']) {
      const account = keyPolicy(key).filter(
        (s) => principalRole(s) === undefined && !validatesOnly(s),
      );
      expect(account).toHaveLength(1);
      const [admin] = account;
      expect(actions(admin as Statement)).not.toContain('kms:*');
      for (const action of actions(admin as Statement)) {
        expect(action).not.toMatch(/^kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant)/);
      }
    }
  });

  it('lets only the recovery operator role and the operations function decrypt the recovery key, through Secrets Manager', () => {
    expect(decrypters('RecoverySecretKey')).toEqual(
      [roleId('OperationsServiceRole'), roleId('RecoveryOperatorRole')].sort(),
    );
    for (const statement of keyPolicy('RecoverySecretKey').filter(
      (s) => principalRole(s) !== undefined,
    )) {
      const via = JSON.stringify(statement.Condition?.StringEquals?.['kms:ViaService']);
      expect(via).toContain('secretsmanager.eu-west-1.');
      expect(via).toContain('AWS::URLSuffix');
    }
  });

  it('never lets the function decrypt the recovery key or read the recovery secret', () => {
    const handlerRole = roleId('HandlerServiceRole');
    expect(JSON.stringify(keyPolicy('RecoverySecretKey'))).not.toContain(handlerRole);
    const statements = JSON.stringify(rolePolicies(handlerRole));
    expect(statements).not.toContain(keyId('RecoverySecretKey'));
    expect(statements).not.toContain(resource('RecoveryKey', 'AWS::SecretsManager::Secret')[0]);
  });

  it('lets the function, the operations function and the recovery operator decrypt the masking key, and the initialiser only encrypt', () => {
    expect(decrypters('MaskingSecretKey')).toEqual(
      [
        roleId('HandlerServiceRole'),
        roleId('OperationsServiceRole'),
        roleId('RecoveryOperatorRole'),
      ].sort(),
    );
    const [init] = keyPolicy('MaskingSecretKey').filter(
      (s) => principalRole(s) === roleId('SecretInitServiceRole'),
    );
    expect(actions(init as Statement).sort()).toEqual(['kms:Encrypt', 'kms:GenerateDataKey*']);
  });

  it('lets the initialiser encrypt the first version alone, so its grant is spent once the ring exists', () => {
    const [init] = keyPolicy('MaskingSecretKey').filter(
      (s) => principalRole(s) === roleId('SecretInitServiceRole'),
    );
    expect(init?.Condition?.StringEquals?.['kms:EncryptionContext:SecretVersionId']).toBe(
      FIRST_VERSION,
    );
    // It reads no value: no GetSecretValue, and (above) no kms:Decrypt in the key policy.
    expect(rolePolicies(roleId('SecretInitServiceRole')).flatMap(actions).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:PutSecretValue',
    ]);
  });

  it('lets the recovery operator role be assumed by the account unless operators are named', () => {
    const [, role] = resource('RecoveryOperatorRole', 'AWS::IAM::Role');
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain(
      'arn:aws:iam::123456789012:root',
    );
    expect(role.Properties.MaxSessionDuration).toBe(3600);
  });
});

describe('queue key', () => {
  it('lets the function decrypt what the event source mapping receives and encrypt what it dead-letters', () => {
    const queueKey = keyId('QueueKey');
    const kms = rolePolicies(roleId('HandlerServiceRole')).filter((s) =>
      JSON.stringify(s.Resource).includes(queueKey),
    );
    const granted = kms.flatMap(actions);
    expect(granted).toContain('kms:Decrypt');
    expect(granted).toContain('kms:GenerateDataKey*');
  });

  it('offers producers a policy to send to the queue under its key', () => {
    const [, producer] = resource('ProducerPolicy');
    const statements = (producer.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements.flatMap(actions).sort()).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sqs:SendMessage',
    ]);
    aws.hasOutput('ProducerPolicyArn', {});
    aws.hasOutput('QueueKeyArn', {});
  });
});

describe('the function in the database', () => {
  const variables = (description: RegExp) => {
    const [fn] = Object.values(aws.findResources('AWS::Lambda::Function')).filter((f) =>
      description.test(String((f as Resource).Properties.Description)),
    ) as Resource[];
    expect(fn, String(description)).toBeDefined();
    return ((fn as Resource).Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
  };

  it('logs in as its own role with an IAM token, and never sees the master credentials', () => {
    const handler = variables(/masked rows/);
    expect(handler).toMatchObject({ DB_AUTH: 'iam', DB_USER: 'login_queue_writer' });
    expect(handler.DB_PASSWORD_SECRET_ID).toBeUndefined();
    // The master secret is the only one Secrets Manager generates; its attachment is its ARN.
    const generated = Object.keys(
      aws.findResources('AWS::SecretsManager::Secret', {
        Properties: { GenerateSecretString: Match.anyValue() },
      }),
    );
    expect(generated).toHaveLength(1);
    const handlerPolicies = JSON.stringify(rolePolicies(roleId('HandlerServiceRole')));
    expect(handlerPolicies).not.toContain(generated[0]);
    expect(handlerPolicies).not.toContain('DatabaseInstanceSecretAttachment');
  });

  it('may connect as that database user only', () => {
    const connects = rolePolicies(roleId('HandlerServiceRole')).filter((s) =>
      actions(s).includes('rds-db:connect'),
    );
    expect(connects).toHaveLength(1);
    const target = JSON.stringify(connects[0]?.Resource);
    expect(target).toContain(':dbuser:');
    expect(target).toContain('/login_queue_writer');
    aws.hasResourceProperties('AWS::RDS::DBInstance', { EnableIAMDatabaseAuthentication: true });
  });

  it('leaves the master credentials to the migration function', () => {
    const migrate = variables(/schema migrations/);
    expect(migrate.DB_PASSWORD_SECRET_ID).toEqual({
      Ref: expect.stringMatching(/^DatabaseInstanceSecretAttachment/),
    });
    expect(migrate.DB_USER).toBe('login_queue');
    expect(migrate.DB_AUTH).toBeUndefined();
  });
});
