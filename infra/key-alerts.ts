/**
 * Notifies the alarm topic of the KMS calls that change who can use the stack's keys, or whether
 * they still work: a new key policy, a grant, a scheduled deletion, a disabled key. The events
 * come from CloudTrail ("AWS API Call via CloudTrail"), which delivers them to EventBridge only
 * while a trail with logging is on in the account (EventBridge user guide, "AWS service events
 * delivered via AWS CloudTrail"); failed calls (errorCode set) match too.
 */
import { Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** The KMS API calls reported, by CloudTrail event name. */
export const WATCHED_KEY_CALLS = [
  'PutKeyPolicy',
  'CreateGrant',
  'ScheduleKeyDeletion',
  'DisableKey',
] as const;

export interface KeyAlertsProps {
  /** The keys watched (at least one). */
  readonly keys: readonly IKey[];
  /** Where the events are published: the alarm topic. */
  readonly topic: ITopic;
}

/** An EventBridge rule on the watched calls for `keys`, targeting `topic`. Throws without keys. */
export class KeyAlerts extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: KeyAlertsProps) {
    super(scope, id);
    if (props.keys.length === 0) {
      throw new Error('KeyAlerts: keys is empty; pass the keys whose use must be watched');
    }
    const arns = props.keys.map((key) => key.keyArn);
    this.rule = new Rule(this, 'KeyChanges', {
      description:
        'login-queue: key policy changes, grants, disabling and deletion of its KMS keys',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: [...WATCHED_KEY_CALLS],
          // KMS records name the key's ARN in `resources`; `requestParameters.keyId` is what the
          // caller passed (an id or an ARN; an alias only shows in the former).
          $or: [
            { resources: { ARN: arns } },
            { requestParameters: { keyId: [...arns, ...props.keys.map((key) => key.keyId)] } },
          ],
        },
      },
    });
    // What aws-events-targets' SnsTopic grants, but for this rule only (aws:SourceArn), so that
    // no other rule can publish to the alarm topic through this statement.
    const events = new ServicePrincipal('events.amazonaws.com');
    this.rule.addTarget({ bind: () => ({ arn: props.topic.topicArn }) });
    props.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'KeyAlertsPublish',
        principals: [events],
        actions: ['sns:Publish'],
        resources: [props.topic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.rule.ruleArn } },
      }),
    );
    // An encrypted topic: EventBridge encrypts what it publishes under the topic's key.
    props.topic.masterKey?.grant(events, 'kms:Decrypt', 'kms:GenerateDataKey*');
  }
}
