import type { Template } from 'aws-cdk-lib/assertions';
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

  it('keeps the private key ring in its own secret, readable through the operator policy', () => {
    const [policy] = Object.values(template.findResources('AWS::IAM::ManagedPolicy')) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[];
    const [statement] = policy?.Properties.PolicyDocument.Statement ?? [];
    expect([statement?.Action].flat().sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    expect(JSON.stringify(statement?.Resource)).toContain('RecoveryKey');
    template.hasOutput('RecoveryKeySecretArn', {});
    template.hasOutput('RecoveryOperatorPolicyArn', {});
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
