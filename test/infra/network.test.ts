import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

let aws: Template;
beforeAll(() => {
  aws = template('aws');
});

type Resource = { Type: string; Properties: Record<string, unknown> };
const all = (type: string) => Object.entries(aws.findResources(type)) as [string, Resource][];
const groupOf = (ref: unknown) => (ref as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe('network least privilege', () => {
  it('strips the rules of the VPC default security group', () => {
    aws.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  it('gives no security group open egress', () => {
    const groups = all('AWS::EC2::SecurityGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const [, group] of groups) {
      for (const rule of (group.Properties.SecurityGroupEgress as { CidrIp?: string }[]) ?? []) {
        // CDK's placeholder for "no egress at all" is the only address rule allowed.
        expect(rule.CidrIp).toBe('255.255.255.255/32');
      }
    }
  });

  it('lets each function out only to where its traffic goes: PostgreSQL and HTTPS to the endpoints', () => {
    const endpointGroups = all('AWS::EC2::VPCEndpoint').map(([, endpoint]) =>
      groupOf((endpoint.Properties.SecurityGroupIds as unknown[])[0]),
    );
    const [[databaseGroup]] = all('AWS::EC2::SecurityGroup').filter(([id]) =>
      id.startsWith('DatabaseInstanceSecurityGroup'),
    ) as [[string, Resource]];
    const egress = all('AWS::EC2::SecurityGroupEgress').map(([, rule]) => rule.Properties);
    expect(egress.length).toBeGreaterThan(0);
    for (const rule of egress) {
      expect(rule.CidrIp).toBeUndefined();
      const destination = groupOf(rule.DestinationSecurityGroupId);
      if (destination === databaseGroup) {
        expect(rule.FromPort).toEqual({
          'Fn::GetAtt': [expect.stringMatching(/^DatabaseInstance/), 'Endpoint.Port'],
        });
      } else {
        expect(endpointGroups).toContain(destination);
        expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
      }
    }
    const sources = new Set(egress.map((rule) => groupOf(rule.GroupId)));
    for (const fn of [
      'HandlerSecurityGroup',
      'MigrateSecurityGroup',
      'DatabaseRotationSecurityGroup',
    ]) {
      expect([...sources].some((id) => id.startsWith(fn))).toBe(true);
    }
  });

  it('admits HTTPS at the endpoints only from the security groups granted, never from an address range', () => {
    const endpointGroups = new Set(
      all('AWS::EC2::VPCEndpoint').map(([, endpoint]) =>
        groupOf((endpoint.Properties.SecurityGroupIds as unknown[])[0]),
      ),
    );
    const ingress = all('AWS::EC2::SecurityGroupIngress')
      .map(([, rule]) => rule.Properties)
      .filter((rule) => endpointGroups.has(groupOf(rule.GroupId)));
    expect(ingress.length).toBeGreaterThanOrEqual(3);
    for (const rule of ingress) {
      expect(rule).toMatchObject({ FromPort: 443, SourceSecurityGroupId: expect.anything() });
      expect(rule.CidrIp).toBeUndefined();
    }
  });

  it("limits each endpoint to this account's principals and resources", () => {
    const endpoints = all('AWS::EC2::VPCEndpoint');
    expect(endpoints).toHaveLength(3);
    for (const [, endpoint] of endpoints) {
      const { Statement } = endpoint.Properties.PolicyDocument as {
        Statement: { Condition: unknown; Resource: unknown }[];
      };
      expect(Statement.length).toBeGreaterThan(0);
      for (const statement of Statement) {
        expect(statement.Condition).toEqual({
          StringEquals: { 'aws:PrincipalAccount': '123456789012' },
        });
      }
      const resources = Statement.map((statement) => statement.Resource);
      const service = String(endpoint.Properties.ServiceName).split('.').at(-1);
      const expected: Record<string, string> = {
        sqs: 'arn:aws:sqs:eu-west-1:123456789012:*',
        secretsmanager: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:*',
        // GetCallerIdentity (its only action there) names no resource.
        sts: '*',
      };
      expect(resources).toContainEqual(expected[service as string]);
    }
  });
});
