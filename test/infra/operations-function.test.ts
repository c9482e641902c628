/**
 * The operations function: inside the VPC, called through a function URL with AuthType
 * AWS_IAM by the recovery operator role alone, who proves it to the function through STS
 * (its interface endpoint), logging in as login_queue_operator.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

let aws: Template;
beforeAll(() => {
  aws = template('aws');
});

type Statement = {
  Effect: string;
  Action: string | string[];
  Principal?: { AWS?: unknown };
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Properties: Record<string, unknown> };

const resources = () => aws.toJSON().Resources as Record<string, Resource>;
const one = (prefix: string, type: string): [string, Resource] => {
  const found = Object.entries(resources()).filter(
    ([id, r]) => id.startsWith(prefix) && r.Type === type,
  );
  expect(found, `${prefix} ${type}`).toHaveLength(1);
  return found[0] as [string, Resource];
};
const actions = (s: Statement): string[] => [s.Action].flat();
const fnId = () => one('Operations', 'AWS::Lambda::Function')[0];
const roleId = (prefix: string) => one(prefix, 'AWS::IAM::Role')[0];
const policiesOf = (role: string): Statement[] =>
  Object.values(resources())
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${role}"`),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
const env = () =>
  (
    one('Operations', 'AWS::Lambda::Function')[1].Properties.Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

describe('the operations function', () => {
  it('has a function URL that takes SigV4-signed calls only (AuthType AWS_IAM), and outputs it with the function ARN the CLI binds its proofs to', () => {
    const [urlId, url] = one('OperationsFunctionUrl', 'AWS::Lambda::Url');
    expect(url.Properties).toMatchObject({
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [fnId(), 'Arn'] },
    });
    aws.hasOutput('OpsFunctionUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            { 'Fn::GetAtt': [urlId, 'FunctionUrl'] },
            '?function=',
            { 'Fn::GetAtt': [fnId(), 'Arn'] },
          ],
        ],
      },
    });
  });

  it('accepts sessions of the recovery operator role only, as STS names them (OPERATOR_ROLE_ARN), at the regional STS endpoint', () => {
    expect(env().OPERATOR_ROLE_ARN).toEqual({
      'Fn::GetAtt': [roleId('RecoveryOperatorRole'), 'Arn'],
    });
    // The regional endpoint, whose name the STS interface endpoint's private DNS answers.
    expect(env().AWS_ENDPOINT_URL_STS).toBeUndefined();
    expect(env().AWS_ENDPOINT_URL).toBeUndefined();
  });

  it('may be invoked by the recovery operator role, through the URL only, and by no other principal', () => {
    // No resource policy: nobody is let in from outside the account or by service.
    const permissions = Object.values(resources()).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Permission' &&
        JSON.stringify(r.Properties.FunctionName).includes(fnId()),
    );
    expect(permissions).toEqual([]);
    // Of every identity policy of the stack, only the operator role's names the function.
    const invokers = Object.values(resources())
      .filter(
        (r) =>
          (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
          JSON.stringify(r.Properties.PolicyDocument).includes(fnId()),
      )
      .map((r) => r.Properties.Roles);
    expect(invokers).toEqual([[{ Ref: roleId('RecoveryOperatorRole') }]]);
    const statements = policiesOf(roleId('RecoveryOperatorRole')).filter((s) =>
      JSON.stringify(s.Resource).includes(fnId()),
    );
    expect(statements.map((s) => [actions(s), s.Condition]).sort()).toEqual(
      [
        [['lambda:InvokeFunction'], { Bool: { 'lambda:InvokedViaFunctionUrl': true } }],
        [
          ['lambda:InvokeFunctionUrl'],
          { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        ],
      ].sort(),
    );
  });

  it('runs in the isolated subnets with its own security group, admitted by the database', () => {
    const [, fn] = one('Operations', 'AWS::Lambda::Function');
    const vpc = fn.Properties.VpcConfig as { SecurityGroupIds: { 'Fn::GetAtt': [string] }[] };
    const [group] = vpc.SecurityGroupIds.map((g) => g['Fn::GetAtt'][0]);
    expect(group).toMatch(/^OperationsSecurityGroup/);
    const ingress = Object.values(resources()).filter(
      (r) =>
        r.Type === 'AWS::EC2::SecurityGroupIngress' &&
        JSON.stringify(r.Properties.SourceSecurityGroupId).includes(group as string),
    );
    const targets = ingress.map((r) => JSON.stringify(r.Properties.GroupId));
    expect(targets.some((t) => t.includes('InstanceSecurityGroup'))).toBe(true);
    expect(targets.some((t) => t.includes('SecretsManagerEndpointSecurityGroup'))).toBe(true);
    expect(targets.some((t) => t.includes('SqsEndpointSecurityGroup'))).toBe(true);
    expect(targets.some((t) => t.includes('StsEndpointSecurityGroup'))).toBe(true);
    expect(ingress).toHaveLength(4);
  });

  it('alone reaches STS: its interface endpoint (private DNS) admits HTTPS from the operations function only, for GetCallerIdentity of this account', () => {
    const [, endpoint] = Object.entries(resources()).find(
      ([, r]) =>
        r.Type === 'AWS::EC2::VPCEndpoint' &&
        JSON.stringify(r.Properties.ServiceName).includes('.sts'),
    ) as [string, Resource];
    expect(endpoint.Properties).toMatchObject({
      PrivateDnsEnabled: true,
      VpcEndpointType: 'Interface',
      PolicyDocument: {
        Statement: [
          {
            Action: 'sts:GetCallerIdentity',
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Resource: '*',
            Condition: { StringEquals: { 'aws:PrincipalAccount': '123456789012' } },
          },
        ],
      },
    });
    const group = (endpoint.Properties.SecurityGroupIds as { 'Fn::GetAtt': [string] }[])[0]?.[
      'Fn::GetAtt'
    ][0];
    const sources = Object.values(resources())
      .filter(
        (r) =>
          r.Type === 'AWS::EC2::SecurityGroupIngress' &&
          JSON.stringify(r.Properties.GroupId).includes(`"${group}"`),
      )
      .map((r) => r.Properties);
    expect(sources).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: {
          'Fn::GetAtt': [expect.stringMatching(/^OperationsSecurityGroup/), 'GroupId'],
        },
      }),
    ]);
    const egress = Object.values(resources()).filter(
      (r) =>
        r.Type === 'AWS::EC2::SecurityGroupEgress' &&
        JSON.stringify(r.Properties.DestinationSecurityGroupId).includes(`"${group}"`),
    );
    expect(egress.map((r) => r.Properties)).toEqual([
      expect.objectContaining({
        FromPort: 443,
        ToPort: 443,
        GroupId: { 'Fn::GetAtt': [expect.stringMatching(/^OperationsSecurityGroup/), 'GroupId'] },
      }),
    ]);
  });

  it('logs in to the database as login_queue_operator with an IAM token', () => {
    expect(env()).toMatchObject({ DB_AUTH: 'iam', DB_USER: 'login_queue_operator' });
    expect(env().DB_PASSWORD_SECRET_ID).toBeUndefined();
    const connects = policiesOf(roleId('OperationsServiceRole')).filter((s) =>
      actions(s).includes('rds-db:connect'),
    );
    expect(connects).toHaveLength(1);
    expect(JSON.stringify(connects[0]?.Resource)).toContain('/login_queue_operator');
  });

  it('reads the recovery and masking key rings, and no other secret', () => {
    const statements = policiesOf(roleId('OperationsServiceRole')).filter((s) =>
      actions(s).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(statements.flatMap(actions)).toEqual(['secretsmanager:GetSecretValue']);
    const secrets = JSON.stringify(statements[0]?.Resource);
    expect(secrets).toContain(one('RecoveryKey', 'AWS::SecretsManager::Secret')[0]);
    expect(secrets).toContain(one('MaskingKey', 'AWS::SecretsManager::Secret')[0]);
    expect(statements[0]?.Resource).toHaveLength(2);
  });

  it('may receive, release, delete and move dead letters (peek, redrive, forget), send to the source queue, and use the queue key', () => {
    const statements = policiesOf(roleId('OperationsServiceRole'));
    const on = (queue: string) =>
      statements
        .filter((s) => JSON.stringify(s.Resource).includes(one(queue, 'AWS::SQS::Queue')[0]))
        .flatMap(actions);
    expect(on('DeadLetterQueue')).toEqual(
      expect.arrayContaining([
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:StartMessageMoveTask',
      ]),
    );
    expect(on('DeadLetterQueue')).not.toContain('sqs:PurgeQueue');
    expect(on('Queue')).toEqual(
      expect.arrayContaining(['sqs:SendMessage', 'sqs:GetQueueAttributes']),
    );
    expect(on('Queue')).not.toContain('sqs:ReceiveMessage');
    const kms = statements
      .filter((s) => JSON.stringify(s.Resource).includes(one('QueueKey', 'AWS::KMS::Key')[0]))
      .flatMap(actions);
    expect(kms).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
  });

  it('keeps its logs a month, like the other functions', () => {
    const [, fn] = one('Operations', 'AWS::Lambda::Function');
    const group = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resources()[group]?.Properties.RetentionInDays).toBe(30);
    expect(fn.Properties.Timeout).toBe(900);
  });
});
