import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { recoveryPublicKey, stackOf, template as templateOf } from '../helpers/stacks';

let template: Template;
let publicKey: string;

beforeAll(() => {
  template = templateOf('recovery');
  publicKey = recoveryPublicKey();
});

type Statement = { Action: string | string[]; Resource: unknown };
const roleStatements = (prefix: string): Statement[] =>
  Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(prefix))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);

describe('PII recovery infrastructure', () => {
  it('gives the function the public key only', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { RECOVERY_PUBLIC_KEY: publicKey } },
    });
    const statements = roleStatements('HandlerServiceRole');
    expect(statements.length).toBeGreaterThan(0);
    expect(JSON.stringify(statements)).not.toContain('RecoveryKey');
  });

  it('keeps the private key ring in its own secret, readable through the operator role', () => {
    const [policy] = Object.values(
      template.findResources('AWS::IAM::ManagedPolicy', {
        Properties: { Description: Match.stringLikeRegexp('recovery operator role') },
      }),
    ) as { Properties: { PolicyDocument: { Statement: Statement[] }; Roles: unknown[] } }[];
    const [statement] = policy?.Properties.PolicyDocument.Statement ?? [];
    expect([statement?.Action].flat().sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
    ]);
    expect(JSON.stringify(statement?.Resource)).toContain('RecoveryKey');
    expect(JSON.stringify(policy?.Properties.Roles)).toContain('RecoveryOperatorRole');
    template.hasOutput('RecoveryKeySecretArn', {});
    template.hasOutput('RecoveryOperatorPolicyArn', {});
    template.hasOutput('RecoveryOperatorRoleArn', {});
  });

  it('is declared with no value: the operator stores the key pair, and no template change replaces it', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret', {
      Properties: { Description: Match.stringLikeRegexp('recovery private key') },
    });
    const [secret] = Object.values(secrets) as { Properties: Record<string, unknown> }[];
    expect(secret?.Properties.GenerateSecretString).toBeUndefined();
    expect(secret?.Properties.SecretString).toBeUndefined();
  });

  it('lets only the named principals assume the operator role when recoveryOperators is set', () => {
    const { stack } = stackOf({ recoveryOperators: ['arn:aws:iam::123456789012:role/incident'] });
    const [role] = Object.values(
      Template.fromStack(stack).findResources('AWS::IAM::Role', {
        Properties: { Description: Match.stringLikeRegexp('recover PII') },
      }),
    ) as { Properties: { AssumeRolePolicyDocument: unknown } }[];
    expect(JSON.stringify(role?.Properties.AssumeRolePolicyDocument)).toContain(
      'arn:aws:iam::123456789012:role/incident',
    );
    expect(JSON.stringify(role?.Properties.AssumeRolePolicyDocument)).not.toContain(':root');
  });

  it('writes no recovery data when no public key is given', () => {
    const plain = templateOf('aws');
    const functions = Object.values(plain.findResources('AWS::Lambda::Function'));
    expect(JSON.stringify(functions)).not.toContain('RECOVERY_PUBLIC_KEY');
  });

  it('rejects a malformed public key at synth', () => {
    expect(() => stackOf({ recoveryPublicKey: 'r1:not-a-key' })).toThrow(
      'RECOVERY_PUBLIC_KEY must be',
    );
  });
});
