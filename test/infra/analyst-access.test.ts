/**
 * The analysts' path in the templates: off by default; with -c analystAccess=ssm a managed
 * instance that admits nothing and reaches only the database (or the replica) and the Session
 * Manager endpoints; with -c analystReplica=true a replica no function is pointed at, alarmed.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { resolveProps } from '../../infra/login-queue-stack';
import { stackOf, template } from '../helpers/stacks';
import { ANALYSTS, type Variant } from '../helpers/variants';

type Resource = { Type: string; Properties: Record<string, unknown> };
const all = (t: Template, type: string) =>
  Object.entries(t.findResources(type)) as [string, Resource][];
const only = (t: Template, type: string, prefix: string): string => {
  const found = all(t, type).filter(([id]) => id.startsWith(prefix));
  expect(found, `${type} ${prefix}`).toHaveLength(1);
  return (found[0] as [string, Resource])[0];
};
const groupOf = (ref: unknown) => (ref as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
const SG = 'AWS::EC2::SecurityGroup';

/** The analyst instance's group, and the group of what its path reaches. */
function groups(variant: Variant) {
  const t = template(variant);
  const instance = only(t, SG, 'AnalystAccessSecurityGroup');
  const database = only(
    t,
    SG,
    variant === 'analystReplica' ? 'AnalystReplicaSecurityGroup' : 'DatabaseInstanceSecurityGroup',
  );
  const endpointGroup = (service: string) => {
    const [[, endpoint]] = all(t, 'AWS::EC2::VPCEndpoint').filter(([, e]) =>
      JSON.stringify(e.Properties.ServiceName).endsWith(`.${service}"`),
    ) as [[string, Resource]];
    return groupOf((endpoint.Properties.SecurityGroupIds as unknown[])[0]);
  };
  return {
    t,
    instance,
    database,
    ssm: endpointGroup('ssm'),
    ssmmessages: endpointGroup('ssmmessages'),
  };
}

describe('analyst access off (the default)', () => {
  it('adds no instance, no AnalystRole, no replica and no Session Manager endpoint', () => {
    const t = template('aws');
    t.resourceCountIs('AWS::EC2::Instance', 0);
    t.resourceCountIs('AWS::RDS::DBInstance', 1);
    expect(all(t, 'AWS::IAM::Role').filter(([id]) => id.startsWith('Analyst'))).toEqual([]);
    expect(all(t, 'AWS::EC2::VPCEndpoint')).toHaveLength(3);
    expect(Object.keys(t.toJSON().Outputs)).not.toContain('AnalystRoleArn');
  });

  it('leaves the primary logging no sign-ins', () => {
    template('aws').hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ log_connections: Match.absent() }),
    });
  });

  it.each([
    [{ analystAccess: 'vpn' as 'ssm' }, 'analystAccess is "vpn"; use ssm, or none (the default)'],
    [
      { analystReplica: true },
      "analystReplica needs analystAccess 'ssm' (nothing else reaches the replica)",
    ],
    [
      { analysts: ['arn:aws:iam::123456789012:user/ana'] },
      'analysts is set but analystAccess is none',
    ],
    [
      { target: 'localstack' as const, analystAccess: 'ssm' as const },
      'analystAccess is "ssm" but the LocalStack target has no network to reach',
    ],
  ])('rejects %j, naming the fix', (props, message) => {
    expect(() => resolveProps(props)).toThrow(message);
  });
});

describe.each(['analyst', 'analystReplica'] as const)('analyst access on (%s)', (variant) => {
  it('gives the instance security group no inbound rule at all', () => {
    const { t, instance } = groups(variant);
    const group = t.toJSON().Resources[instance] as Resource;
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = all(t, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, rule]) => groupOf(rule.Properties.GroupId) === instance,
    );
    expect(ingress).toEqual([]);
  });

  it('lets the instance out only to PostgreSQL of what its path reaches and HTTPS to the two Session Manager endpoints', () => {
    // Arrange
    const { t, instance, database, ssm, ssmmessages } = groups(variant);
    const group = t.toJSON().Resources[instance] as Resource;
    const target = variant === 'analystReplica' ? 'AnalystReplica' : 'DatabaseInstance';
    // Act
    const egress = all(t, 'AWS::EC2::SecurityGroupEgress')
      .map(([, rule]) => rule.Properties)
      .filter((rule) => groupOf(rule.GroupId) === instance);
    // Assert: no address rule, and exactly these three destinations.
    expect(group.Properties.SecurityGroupEgress ?? []).toEqual([]);
    expect(
      egress
        .map((rule) => ({
          to: groupOf(rule.DestinationSecurityGroupId),
          port: rule.FromPort,
          toPort: rule.ToPort,
          protocol: rule.IpProtocol,
          cidr: rule.CidrIp,
        }))
        .sort((a, b) => a.to.localeCompare(b.to)),
    ).toEqual(
      [
        {
          to: database,
          port: {
            'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${target}`)), 'Endpoint.Port'],
          },
          toPort: {
            'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${target}`)), 'Endpoint.Port'],
          },
          protocol: 'tcp',
          cidr: undefined,
        },
        { to: ssm, port: 443, toPort: 443, protocol: 'tcp', cidr: undefined },
        { to: ssmmessages, port: 443, toPort: 443, protocol: 'tcp', cidr: undefined },
      ].sort((a, b) => a.to.localeCompare(b.to)),
    );
  });

  it('admits HTTPS at the Session Manager endpoints from the analyst instance alone', () => {
    const { t, instance, ssm, ssmmessages } = groups(variant);
    for (const endpoint of [ssm, ssmmessages]) {
      const ingress = all(t, 'AWS::EC2::SecurityGroupIngress')
        .map(([, rule]) => rule.Properties)
        .filter((rule) => groupOf(rule.GroupId) === endpoint);
      expect(ingress.map((rule) => [groupOf(rule.SourceSecurityGroupId), rule.FromPort])).toEqual([
        [instance, 443],
      ]);
    }
  });

  it('runs the smallest Graviton instance on Amazon Linux 2023, IMDSv2 only, encrypted disk, no public address, in an isolated subnet', () => {
    const t = template(variant);
    t.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't4g.nano',
      ImageId: { Ref: Match.stringLikeRegexp('al2023.*arm64') },
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) },
      ],
      NetworkInterfaces: [
        Match.objectLike({
          AssociatePublicIpAddress: false,
          SubnetId: { Ref: Match.stringLikeRegexp('^DatabaseVpcisolatedSubnet') },
        }),
      ],
    });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
  });

  it('starts the instance after the endpoints and the rules its agent needs to register', () => {
    const { t, ssm, ssmmessages } = groups(variant);
    const id = only(t, 'AWS::EC2::Instance', 'AnalystAccessInstance');
    const dependsOn = (t.toJSON().Resources[id] as { DependsOn: string[] }).DependsOn;
    const endpoints = all(t, 'AWS::EC2::VPCEndpoint')
      .filter(([, e]) => /\.ssm(messages)?"$/.test(JSON.stringify(e.Properties.ServiceName)))
      .map(([endpoint]) => endpoint);
    expect(endpoints).toHaveLength(2);
    expect(dependsOn).toEqual(expect.arrayContaining([...endpoints, ssm, ssmmessages]));
    const rulesToEndpoints = all(t, 'AWS::EC2::SecurityGroupIngress')
      .filter(([, rule]) => [ssm, ssmmessages].includes(groupOf(rule.Properties.GroupId)))
      .map(([rule]) => rule);
    expect(dependsOn).toEqual(expect.arrayContaining(rulesToEndpoints));
  });

  it('forwards only to PostgreSQL of what its path reaches: a session document of its own, the host and port fixed, the local port the only parameter', () => {
    // Arrange
    const t = template(variant);
    const target = only(
      t,
      'AWS::RDS::DBInstance',
      variant === 'analystReplica' ? 'AnalystReplica' : 'DatabaseInstance',
    );
    // Act
    const document = only(t, 'AWS::SSM::Document', 'AnalystTunnelDocument');
    const { Properties } = t.toJSON().Resources[document] as Resource;
    const content = Properties.Content as {
      parameters: Record<string, unknown>;
      properties: Record<string, unknown>;
    };
    // Assert
    expect(Properties.DocumentType).toBe('Session');
    expect(content).toMatchObject({ schemaVersion: '1.0', sessionType: 'Port' });
    expect(Object.keys(content.parameters)).toEqual(['localPortNumber']);
    expect(content.properties).toEqual({
      type: 'LocalPortForwarding',
      host: { 'Fn::GetAtt': [target, 'Endpoint.Address'] },
      portNumber: { 'Fn::GetAtt': [target, 'Endpoint.Port'] },
      localPortNumber: '{{ localPortNumber }}',
    });
  });

  it('lets the AnalystRole start that document alone, on that instance alone', () => {
    const t = template(variant);
    const instance = only(t, 'AWS::EC2::Instance', 'AnalystAccessInstance');
    const document = only(t, 'AWS::SSM::Document', 'AnalystTunnelDocument');
    const [[, policy]] = all(t, 'AWS::IAM::Policy').filter(([id]) =>
      id.startsWith('AnalystRoleDefaultPolicy'),
    ) as [[string, Resource]];
    const statements = (
      policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }
    ).Statement;
    const start = statements.filter((statement) => statement.Action === 'ssm:StartSession');
    expect(start).toHaveLength(1);
    const resources = JSON.stringify(start[0]?.Resource);
    expect(resources).toContain(JSON.stringify({ Ref: instance }));
    expect(resources).toContain(JSON.stringify({ Ref: document }));
    expect(resources).not.toContain('AWS-');
  });

  it('outputs what an analyst needs: the instance id, the role, the session document, the host to forward to', () => {
    const t = template(variant);
    const target = variant === 'analystReplica' ? 'AnalystReplica' : 'DatabaseInstance';
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.AnalystAccessInstanceId?.Value).toEqual({
      Ref: expect.stringMatching(/^AnalystAccessInstance/),
    });
    expect(outputs.AnalystRoleArn?.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^AnalystRole/), 'Arn'],
    });
    expect(outputs.AnalystSessionDocument?.Value).toEqual({
      Ref: expect.stringMatching(/^AnalystTunnelDocument/),
    });
    expect(outputs.AnalystDatabaseEndpoint?.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${target}`)), 'Endpoint.Address'],
    });
  });
});

describe('without a deploy environment (account and region left to CloudFormation)', () => {
  it('synthesises both options with no cdk-nag finding, the acknowledgements naming unresolved ARNs', () => {
    const { app } = stackOf({ analystAccess: 'ssm', analystReplica: true, retentionDays: 400 });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('who may assume the AnalystRole', () => {
  it('the principals given with -c analysts', () => {
    template('analyst').hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^login-queue analysts'),
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: [...ANALYSTS] } },
        ],
      },
      MaxSessionDuration: 3600,
    });
  });

  it('else the account', () => {
    template('analystReplica').hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^login-queue analysts'),
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::123456789012:root' },
          },
        ],
      },
    });
  });
});

describe('sign-ins are logged by the server the analysts reach', () => {
  it('without a replica, by the primary', () => {
    template('analyst').hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({
        log_connections: '1',
        log_disconnections: '1',
        'rds.force_ssl': '1',
      }),
    });
  });

  it('with a replica, by the replica alone, which keeps the primary settings', () => {
    const t = template('analystReplica');
    const replicaGroup = only(t, 'AWS::RDS::DBParameterGroup', 'AnalystReplicaParameters');
    const primaryGroup = only(t, 'AWS::RDS::DBParameterGroup', 'DatabaseParameters');
    const parameters = (id: string) =>
      (t.toJSON().Resources[id] as Resource).Properties.Parameters as Record<string, string>;
    expect(parameters(replicaGroup)).toMatchObject({
      ...parameters(primaryGroup),
      log_connections: '1',
      log_disconnections: '1',
    });
    expect(parameters(primaryGroup).log_connections).toBeUndefined();
  });
});

describe('the analyst replica', () => {
  it('replicates the primary, same class, IAM sign-in on, private, in its own security group', () => {
    const t = template('analystReplica');
    const primary = only(t, 'AWS::RDS::DBInstance', 'DatabaseInstance');
    const group = only(t, SG, 'AnalystReplicaSecurityGroup');
    const primaryClass = (t.toJSON().Resources[primary] as Resource).Properties.DBInstanceClass;
    t.hasResourceProperties('AWS::RDS::DBInstance', {
      SourceDBInstanceIdentifier: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([{ Ref: primary }])],
      }),
      DBInstanceClass: primaryClass,
      EnableIAMDatabaseAuthentication: true,
      PubliclyAccessible: false,
      VPCSecurityGroups: [{ 'Fn::GetAtt': [group, 'GroupId'] }],
    });
  });

  it('stores on gp3 and autoscales to the same cap as the primary', () => {
    const t = template('analystReplica');
    const primary = only(t, 'AWS::RDS::DBInstance', 'DatabaseInstance');
    const replica = only(t, 'AWS::RDS::DBInstance', 'AnalystReplica');
    const { Resources } = t.toJSON();
    const cap = (Resources[primary] as Resource).Properties.MaxAllocatedStorage;
    expect(cap).toEqual(expect.any(Number));
    expect((Resources[replica] as Resource).Properties).toMatchObject({
      StorageType: 'gp3',
      MaxAllocatedStorage: cap,
    });
  });

  it('admits only the analyst instance: no function reaches it, and none is pointed at it', () => {
    // Arrange
    const { t, instance, database: replicaGroup } = groups('analystReplica');
    const replica = only(t, 'AWS::RDS::DBInstance', 'AnalystReplica');
    // Act
    const ingress = all(t, 'AWS::EC2::SecurityGroupIngress')
      .map(([, rule]) => rule.Properties)
      .filter((rule) => groupOf(rule.GroupId) === replicaGroup);
    const functionsNamingIt = all(t, 'AWS::Lambda::Function').filter(([, fn]) =>
      JSON.stringify(fn.Properties.Environment ?? {}).includes(replica),
    );
    // Assert
    expect(ingress.map((rule) => groupOf(rule.SourceSecurityGroupId))).toEqual([instance]);
    expect(functionsNamingIt).toEqual([]);
  });

  it('alarms on its lag and its CPU, to the alarm topic, when they fire and when they clear', () => {
    const t = template('analystReplica');
    const replica = only(t, 'AWS::RDS::DBInstance', 'AnalystReplica');
    const topic = only(t, 'AWS::SNS::Topic', 'MonitoringAlarms');
    for (const [metric, threshold] of [
      ['ReplicaLag', 600],
      ['CPUUtilization', 80],
    ] as const) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/RDS',
        MetricName: metric,
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: { Ref: replica } }],
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      });
    }
  });

  it('alarms when its lag is missing: no ReplicaLag means replication is broken', () => {
    const t = template('analystReplica');
    const replica = only(t, 'AWS::RDS::DBInstance', 'AnalystReplica');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ReplicaLag',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: { Ref: replica } }],
      TreatMissingData: 'breaching',
    });
  });

  it('alarms when under 10 % of the allocated storage is free, as on the primary', () => {
    // Arrange
    const t = template('analystReplica');
    const primary = only(t, 'AWS::RDS::DBInstance', 'DatabaseInstance');
    const replica = only(t, 'AWS::RDS::DBInstance', 'AnalystReplica');
    const topic = only(t, 'AWS::SNS::Topic', 'MonitoringAlarms');
    const allocated = Number(
      (t.toJSON().Resources[primary] as Resource).Properties.AllocatedStorage,
    );
    // Assert
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/RDS',
      MetricName: 'FreeStorageSpace',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: { Ref: replica } }],
      Threshold: allocated * 1024 ** 3 * 0.1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
  });
});
