import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyAlerts } from '../../infra/key-alerts';
import { template } from '../helpers/stacks';

let aws: Template;
beforeAll(() => {
  aws = template('aws');
});

const only = (found: Record<string, unknown>): [string, Record<string, unknown>] => {
  const entries = Object.entries(found);
  expect(entries).toHaveLength(1);
  return entries[0] as [string, Record<string, unknown>];
};
type KmsPattern = {
  'detail-type': string[];
  detail: { eventSource: string[]; eventName: string[]; $or: unknown[] };
};
const ruleOf = (t: Template) =>
  only(
    t.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.kms'] } } }),
  );

describe('key alerts', () => {
  it('watches key policy changes, grants, disabling and scheduled deletion of every KMS key of the stack', () => {
    // Arrange: the stack's keys, read from the template.
    const keys = Object.keys(aws.findResources('AWS::KMS::Key')).sort();
    expect(keys).toHaveLength(3);
    // Act
    const [, rule] = ruleOf(aws);
    // Assert
    const pattern = (rule as { Properties: { EventPattern: KmsPattern } }).Properties.EventPattern;
    expect(pattern['detail-type']).toEqual(['AWS API Call via CloudTrail']);
    expect(pattern.detail.eventSource).toEqual(['kms.amazonaws.com']);
    expect([...pattern.detail.eventName].sort()).toEqual(
      ['CreateGrant', 'DisableKey', 'PutKeyPolicy', 'ScheduleKeyDeletion'].sort(),
    );
    const arns = keys.map((key) => ({ 'Fn::GetAtt': [key, 'Arn'] }));
    expect(pattern.detail.$or).toEqual([
      { resources: { ARN: expect.arrayContaining(arns) } },
      {
        requestParameters: {
          keyId: expect.arrayContaining([...arns, ...keys.map((key) => ({ Ref: key }))]),
        },
      },
    ]);
  });

  it("publishes to the alarm topic, whose policy admits EventBridge for this rule's events only", () => {
    const [ruleId, rule] = ruleOf(aws);
    const [topicId] = only(aws.findResources('AWS::SNS::Topic'));
    expect((rule as { Properties: { Targets: unknown } }).Properties.Targets).toEqual([
      { Arn: { Ref: topicId }, Id: 'Target0' },
    ]);
    aws.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'KeyAlertsPublish',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
          },
        ]),
      },
    });
    // An unencrypted topic: EventBridge needs no key to publish.
    aws.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.absent() });
  });

  it("lets EventBridge use an encrypted topic's key", () => {
    const stack = new Stack(new App());
    const topicKey = new Key(stack, 'TopicKey');
    new KeyAlerts(stack, 'KeyAlerts', {
      keys: [new Key(stack, 'Watched')],
      topic: new Topic(stack, 'Topic', { masterKey: topicKey }),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('refuses to watch no keys', () => {
    const stack = new Stack(new App());
    expect(
      () => new KeyAlerts(stack, 'KeyAlerts', { keys: [], topic: new Topic(stack, 'Topic') }),
    ).toThrow('KeyAlerts: keys is empty; pass the keys whose use must be watched');
  });
});
