import { readFileSync } from 'node:fs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

let aws: Template;
let local: Template;

beforeAll(() => {
  aws = template('aws');
  local = template('localstack');
});

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
const only = (template: Template, type: string): [string, Resource] => {
  const found = Object.entries(template.findResources(type)) as [string, Resource][];
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
};
const handlerOf = (template: Template): [string, Resource] => {
  const found = Object.entries(
    template.findResources('AWS::Lambda::Function', {
      Properties: {
        Environment: {
          Variables: { DLQ_URL: Match.anyValue(), RECOVERY_SECRET_ID: Match.absent() },
        },
      },
    }),
  ) as [string, Resource][];
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
};

describe('event source mapping', () => {
  it('reports partial batch failures', () => {
    aws.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('batches up to 100 records within 5 s, with concurrency capped for the database', () => {
    aws.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('is created only after the deploy-time migration and secret initialiser ran', () => {
    const [, mapping] = only(aws, 'AWS::Lambda::EventSourceMapping');
    const triggers = Object.keys(aws.findResources('Custom::Trigger'));
    expect(triggers).toHaveLength(2);
    expect(mapping.DependsOn).toEqual(expect.arrayContaining(triggers));
  });

  it('lets the function back a failing batch off on its queue: visibility changes and deletes', () => {
    const [, handler] = handlerOf(aws);
    const [queueId] = Object.keys(
      aws.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } }),
    );
    expect(
      (handler.Properties.Environment as { Variables: Record<string, unknown> }).Variables
        .SOURCE_QUEUE_URL,
    ).toEqual({ Ref: queueId });
    const statements = Object.values(aws.findResources('AWS::IAM::Policy'))
      .filter((p) =>
        JSON.stringify((p as Resource).Properties.Roles).includes('HandlerServiceRole'),
      )
      .flatMap(
        (p) =>
          (
            (p as Resource).Properties.PolicyDocument as {
              Statement: { Action: string | string[]; Resource: unknown }[];
            }
          ).Statement,
      );
    const onQueue = statements.filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] }),
    );
    const actions = onQueue.flatMap((s) => [s.Action].flat());
    expect(actions).toContain('sqs:ChangeMessageVisibility');
    expect(actions).toContain('sqs:DeleteMessage');
  });

  it('uses no reserved concurrency', () => {
    const [, handler] = handlerOf(aws);
    expect(handler.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('queues', () => {
  it('redrives to the DLQ after 30 receives', () => {
    const [dlqId] =
      Object.entries(
        aws.findResources('AWS::SQS::Queue', { Properties: { MessageRetentionPeriod: 1_209_600 } }),
      )[0] ?? [];
    aws.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 30 },
    });
  });

  it('keeps dead letters 14 days', () => {
    aws.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
  });

  it('sets the visibility timeout to at least 6 x the function timeout + the batching window', () => {
    const [, handler] = handlerOf(aws);
    const [, mapping] = only(aws, 'AWS::Lambda::EventSourceMapping');
    const [, queue] = Object.entries(
      aws.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } }),
    )[0] as [string, Resource];
    const required =
      6 * Number(handler.Properties.Timeout) +
      Number(mapping.Properties.MaximumBatchingWindowInSeconds);
    expect(Number(queue.Properties.VisibilityTimeout)).toBeGreaterThanOrEqual(required);
  });

  it("encrypts both queues with the stack's own rotating KMS key (the bodies are raw PII)", () => {
    const [keyId] = Object.entries(aws.findResources('AWS::KMS::Key')).find(([id]) =>
      id.startsWith('QueueKey'),
    ) ?? [''];
    aws.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const queues = Object.values(aws.findResources('AWS::SQS::Queue')) as Resource[];
    expect(queues).toHaveLength(2);
    for (const queue of queues) {
      expect(queue.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(queue.Properties.SqsManagedSseEnabled).toBeUndefined();
    }
  });

  it('denies non-TLS access to both queues', () => {
    const policies = aws.findResources('AWS::SQS::QueuePolicy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
    });
    expect(Object.keys(policies)).toHaveLength(2);
  });
});

describe('function', () => {
  it('runs on a current Node.js runtime on ARM64', () => {
    const [, handler] = handlerOf(aws);
    expect(handler.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
  });

  it('logs to its own log group with a retention', () => {
    const [, handler] = handlerOf(aws);
    const logGroup = (handler.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup
      .Ref;
    expect(aws.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(30);
  });

  it('is configured with ARNs and names only, never secret values', () => {
    const [, handler] = handlerOf(aws);
    const variables = (handler.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.MASKING_SECRET_ID).toEqual({ Ref: expect.stringMatching(/^MaskingKey/) });
    expect(Object.keys(variables)).not.toContain('DB_PASSWORD');
    expect(JSON.stringify(variables)).not.toMatch(/password"\s*:/i);
  });

  it('verifies the database certificate with the runtime CA bundle', () => {
    const [, handler] = handlerOf(aws);
    expect(
      (handler.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    ).toMatchObject({
      DB_SSL: 'verify-full',
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
    });
  });
});

describe('masking key', () => {
  it('is declared with no value, so no template change can ever rewrite a stored key ring', () => {
    const [, secret] = Object.entries(aws.findResources('AWS::SecretsManager::Secret')).find(
      ([id]) => id.startsWith('MaskingKey'),
    ) as [string, Resource];
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
    expect(secret.Properties.SecretString).toBeUndefined();
  });

  it('gets its first key ring from a deploy-time initialiser that may describe and write it, not read it', () => {
    const [, init] = Object.entries(
      aws.findResources('AWS::Lambda::Function', {
        Properties: {
          Handler: 'index.handler',
          Description: Match.stringLikeRegexp('first masking key ring'),
        },
      }),
    )[0] as [string, Resource];
    const variables = (init.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.MASKING_SECRET_ID).toEqual({ Ref: expect.stringMatching(/^MaskingKey/) });
    const role = (init.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = Object.values(aws.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify((policy as Resource).Properties.Roles).includes(role))
      .flatMap(
        (policy) =>
          ((policy as Resource).Properties.PolicyDocument as { Statement: { Action: unknown }[] })
            .Statement,
      );
    expect(statements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:PutSecretValue',
    ]);
  });

  it('can be read by the handler and the operations function, scoped to the secrets they need and nothing else', () => {
    const policies = Object.values(aws.findResources('AWS::IAM::Policy')) as Resource[];
    const reads = policies.flatMap((policy) =>
      (
        policy.Properties.PolicyDocument as {
          Statement: { Action: string | string[]; Resource: unknown }[];
        }
      ).Statement.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue')).map(
        (statement) => ({ roles: JSON.stringify(policy.Properties.Roles), statement }),
      ),
    );
    const maskingReaders = reads
      .filter(({ statement }) => JSON.stringify(statement.Resource).includes('MaskingKey'))
      .map(({ roles }) => /"(Handler|Operations)ServiceRole/.exec(roles)?.[1]);
    expect(maskingReaders.sort()).toEqual(['Handler', 'Operations']);
    for (const { statement } of reads)
      expect(JSON.stringify(statement.Resource)).not.toContain('*');
  });
});

describe('IAM', () => {
  it("grants no action on a wildcard resource, but CDK's log retention function's", () => {
    // It sets retention on log groups whose names exist only at deploy time (acknowledged).
    const documents = [
      ...Object.values(aws.findResources('AWS::IAM::Policy'))
        .filter((p) => !JSON.stringify((p as Resource).Properties.Roles).includes('LogRetention'))
        .map((p) => (p as Resource).Properties.PolicyDocument),
      ...Object.values(aws.findResources('AWS::IAM::Role')).flatMap((r) =>
        (
          ((r as Resource).Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []
        ).map((p) => p.PolicyDocument),
      ),
    ] as { Statement: { Resource: unknown }[] }[];
    for (const statement of documents.flatMap((d) => d.Statement)) {
      expect([statement.Resource].flat()).not.toContain('*');
    }
  });
});

describe('database', () => {
  it('is encrypted, private and forces TLS', () => {
    aws.hasResourceProperties('AWS::RDS::DBInstance', {
      StorageEncrypted: true,
      PubliclyAccessible: false,
      Engine: 'postgres',
      EngineVersion: Match.stringLikeRegexp('^17'),
    });
    aws.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: { 'rds.force_ssl': '1' },
    });
  });

  it('lives in isolated subnets of a VPC without NAT or internet gateway', () => {
    aws.resourceCountIs('AWS::EC2::NatGateway', 0);
    aws.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const endpoints = Object.values(aws.findResources('AWS::EC2::VPCEndpoint')) as Resource[];
    expect(endpoints.map((endpoint) => endpoint.Properties.ServiceName).sort()).toEqual([
      'com.amazonaws.eu-west-1.secretsmanager',
      'com.amazonaws.eu-west-1.sqs',
      'com.amazonaws.eu-west-1.sts',
    ]);
    for (const endpoint of endpoints) expect(endpoint.Properties.PrivateDnsEnabled).toBe(true);
  });

  it('accepts PostgreSQL connections only from the security groups granted, never from an address range', () => {
    const ingress = Object.values(
      aws.findResources('AWS::EC2::SecurityGroupIngress'),
    ) as Resource[];
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.Properties).toMatchObject({
        IpProtocol: 'tcp',
        SourceSecurityGroupId: expect.anything(),
      });
      expect(rule.Properties.CidrIp).toBeUndefined();
    }
    const groups = Object.values(aws.findResources('AWS::EC2::SecurityGroup')) as Resource[];
    for (const group of groups) {
      for (const rule of (group.Properties.SecurityGroupIngress as
        | { CidrIp?: string }[]
        | undefined) ?? []) {
        expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      }
    }
  });

  it('rotates its generated password monthly, but not while the stack is being created', () => {
    // A rotation at creation would race the deploy-time migration, which reads the password.
    aws.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('stores on gp3 and lets the function log in with IAM database authentication', () => {
    aws.hasResourceProperties('AWS::RDS::DBInstance', {
      StorageType: 'gp3',
      EnableIAMDatabaseAuthentication: true,
    });
  });
});

describe('operations', () => {
  it('alarms as soon as the DLQ holds a message', () => {
    aws.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarms') }],
    });
  });

  it('alarms on the age of the oldest message, function errors, throttles and retried records', () => {
    for (const metric of [
      'ApproximateAgeOfOldestMessage',
      'Errors',
      'Throttles',
      'RecordsRetried',
    ]) {
      aws.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: metric });
    }
  });

  it('mails alarms to the given address over an SSL-only topic', () => {
    aws.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    aws.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('draws a dashboard with the queue, the function and the handler metrics', () => {
    const [, dashboard] = only(aws, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const needle of [
      'ApproximateAgeOfOldestMessage',
      'Duration',
      'Throttles',
      'RecordsWritten',
      'DuplicateDeliveries',
    ]) {
      expect(body).toContain(needle);
    }
  });

  it('outputs the queue URLs, the database endpoint and the secret ARNs', () => {
    for (const output of [
      'QueueUrl',
      'DeadLetterQueueUrl',
      'DatabaseEndpoint',
      'MaskingSecretArn',
      'DatabaseSecretArn',
    ]) {
      aws.hasOutput(output, {});
    }
  });
});

describe('LocalStack target', () => {
  it('has no RDS and no VPC', () => {
    local.resourceCountIs('AWS::RDS::DBInstance', 0);
    local.resourceCountIs('AWS::EC2::VPC', 0);
  });

  it('points the function at the given PostgreSQL, without TLS', () => {
    const [, handler] = handlerOf(local);
    expect(
      (handler.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    ).toMatchObject({
      DB_HOST: 'postgres',
      DB_NAME: 'logins',
      DB_USER: 'postgres',
      DB_SSL: 'disable',
    });
  });

  it('keeps the queues, the mapping, the masking key and its initialiser', () => {
    local.resourceCountIs('AWS::SQS::Queue', 2);
    local.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    local.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('masking key ring'),
      GenerateSecretString: Match.absent(),
    });
    local.resourceCountIs('Custom::Trigger', 2);
  });

  it('leaves out what LocalStack cannot run or drops: the dashboard, the VPC, the rotation alarm', () => {
    local.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    local.resourceCountIs('AWS::EC2::VPC', 0);
    local.resourceCountIs('Custom::VpcRestrictDefaultSG', 0);
    // The maintenance schedule only: no RDS, so no rotation-failure rule.
    local.resourceCountIs('AWS::Events::Rule', 1);
    local.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(17 3 * * ? *)' });
    local.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
  });

  it("runs on LocalStack's pinned Community image, without a token, on the host's architecture", () => {
    const compose = readFileSync(
      new URL('../../localstack/docker-compose.yml', import.meta.url),
      'utf8',
    );
    expect(compose).toMatch(/image: localstack\/localstack:4\.\d+\.\d+\n/);
    // Passed through when set, never required (`:-` rather than `:?`).
    expect(compose).toMatch(/LOCALSTACK_AUTH_TOKEN: \$\{LOCALSTACK_AUTH_TOKEN:-\}/);
    expect(compose).toContain('LAMBDA_IGNORE_ARCHITECTURE: "1"');
    expect(compose).toMatch(/SERVICES: .*\bkms\b/);
  });
});
