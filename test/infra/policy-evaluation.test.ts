/**
 * Who may do what, decided by an IAM policy evaluator over the synthesised template's identity,
 * key, secret, queue, function and topic policies: the questions that matter, answered as AWS
 * would, rather than the policies' shape.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_SUFFIX, STACK_UUID } from '../helpers/cfn-resolve';
import {
  type Context,
  EvaluatedStack,
  evaluate,
  type Principal,
  type Request,
} from '../helpers/policy-evaluation';
import { template } from '../helpers/stacks';
import { VARIANTS } from '../helpers/variants';

const { account, region } = VARIANTS.aws.env;
let stack: EvaluatedStack;
beforeAll(() => {
  stack = new EvaluatedStack(template('aws').toJSON(), {
    account,
    region,
    stackName: 'LoginQueue',
  });
});

const VIA_SECRETS_MANAGER = `secretsmanager.${region}.amazonaws.com`;
// A real version's id: the ClientRequestToken of the PutSecretValue that wrote it.
const A_VERSION = 'f3a9e8c2-5b1d-4e7a-9c3f-2d8b6a1e0f47';
const VALIDATION = 'RequestToValidateKeyAccess';

const KEY_SECRETS = {
  masking: { secret: 'MaskingKey', key: 'MaskingSecretKey' },
  recovery: { secret: 'RecoveryKey', key: 'RecoverySecretKey' },
} as const;
type KeySecret = keyof typeof KEY_SECRETS;

const secretOf = (which: KeySecret) => {
  const secret = stack.id(KEY_SECRETS[which].secret, 'AWS::SecretsManager::Secret');
  const key = stack.id(KEY_SECRETS[which].key, 'AWS::KMS::Key');
  return {
    arn: stack.value(secret),
    policy: stack.resourcePolicy(secret),
    keyArn: stack.value(key, 'Arn'),
    keyPolicy: stack.resourcePolicy(key),
  };
};

/** A KMS call Secrets Manager makes on a principal's behalf for `which`'s secret. */
const throughSecretsManager = (
  which: KeySecret,
  action: string,
  versionId: string,
  context: Context = {},
): Request => {
  const { arn, keyArn, keyPolicy } = secretOf(which);
  return {
    action,
    resource: keyArn,
    resourcePolicy: keyPolicy,
    context: {
      'kms:ViaService': VIA_SECRETS_MANAGER,
      'kms:EncryptionContext:SecretARN': arn,
      'kms:EncryptionContext:SecretVersionId': versionId,
      ...context,
    },
  };
};

/** GetSecretValue, and the kms:Decrypt of the current version it makes as the caller. */
const reads = (which: KeySecret) => (): Request[] => [
  {
    action: 'secretsmanager:GetSecretValue',
    resource: secretOf(which).arn,
    resourcePolicy: secretOf(which).policy,
  },
  throughSecretsManager(which, 'kms:Decrypt', A_VERSION),
];

/** CreateSecret with its KMS key, and the two calls with which Secrets Manager validates it. */
const creates = (which: KeySecret) => (): Request[] => [
  { action: 'secretsmanager:CreateSecret', resource: secretOf(which).arn },
  throughSecretsManager(which, 'kms:GenerateDataKey', VALIDATION),
  throughSecretsManager(which, 'kms:Decrypt', VALIDATION),
];

/** `ask` for each key secret, as one object: a failure prints both. */
async function forBoth<T>(ask: (which: KeySecret) => Promise<T>) {
  return { masking: await ask('masking'), recovery: await ask('recovery') };
}
const both = <T>(expected: T) => ({ masking: expected, recovery: expected });

/** Each request's answer for `principal`, by a label: the rows a failure prints. */
async function answers(principal: Principal, requests: Record<string, Request>) {
  const rows: Record<string, string> = {};
  for (const [label, request] of Object.entries(requests)) {
    rows[label] = await evaluate(principal, request);
  }
  return rows;
}

describe('who can read each key secret: GetSecretValue, then kms:Decrypt through Secrets Manager', () => {
  it('lets the handler, the operations function and the recovery operator role read the masking key ring', async () => {
    expect(await stack.who(reads('masking'))).toEqual([
      'HandlerServiceRole',
      'OperationsServiceRole',
      'RecoveryOperatorRole',
    ]);
  });

  it('lets only the operations function and the recovery operator role read the recovery key ring', async () => {
    expect(await stack.who(reads('recovery'))).toEqual([
      'OperationsServiceRole',
      'RecoveryOperatorRole',
    ]);
  });
});

describe('who can create each key secret: CreateSecret and Secrets Manager key validation', () => {
  it('names the secret after the stack and its UUID, so the key policy can name its ARN before it exists', () => {
    expect(secretOf('masking').arn).toBe(
      `arn:aws:secretsmanager:${region}:${account}:secret:LoginQueue/MaskingKey/${STACK_UUID}-${SECRET_SUFFIX}`,
    );
  });

  it("lets CloudFormation's deploy role, and no one else, create either key secret", async () => {
    expect(await forBoth((which) => stack.who(creates(which)))).toEqual(both(['DeployRole']));
  });

  it('opens no version for the deploy role: no real version, no other secret, nothing outside Secrets Manager', async () => {
    // Arrange
    const deployer = stack.principal('DeployRole');
    const otherSecret = `arn:aws:secretsmanager:${region}:${account}:secret:Other-${SECRET_SUFFIX}`;
    // Act
    const rows = await forBoth((which) =>
      answers(deployer, {
        validation: throughSecretsManager(which, 'kms:Decrypt', VALIDATION),
        realVersion: throughSecretsManager(which, 'kms:Decrypt', A_VERSION),
        otherSecret: throughSecretsManager(which, 'kms:Decrypt', VALIDATION, {
          'kms:EncryptionContext:SecretARN': otherSecret,
        }),
        notViaSecretsManager: throughSecretsManager(which, 'kms:Decrypt', VALIDATION, {
          'kms:ViaService': `sqs.${region}.amazonaws.com`,
        }),
        encrypt: throughSecretsManager(which, 'kms:Encrypt', VALIDATION),
      }),
    );
    // Assert
    expect(rows).toEqual(
      both({
        validation: 'Allowed',
        realVersion: 'ImplicitlyDenied',
        otherSecret: 'ImplicitlyDenied',
        notViaSecretsManager: 'ImplicitlyDenied',
        encrypt: 'ImplicitlyDenied',
      }),
    );
  });
});

describe('an account administrator and a principal of another account', () => {
  const onKey = (which: KeySecret, action: string): Request => ({
    action,
    resource: secretOf(which).keyArn,
    resourcePolicy: secretOf(which).keyPolicy,
  });
  const rowsFor = (which: KeySecret) => ({
    putKeyPolicy: onKey(which, 'kms:PutKeyPolicy'),
    scheduleKeyDeletion: onKey(which, 'kms:ScheduleKeyDeletion'),
    disableKey: onKey(which, 'kms:DisableKey'),
    createGrant: onKey(which, 'kms:CreateGrant'),
    decryptDirectly: onKey(which, 'kms:Decrypt'),
    getSecretValue: reads(which)()[0] as Request,
    decryptThroughSecretsManager: throughSecretsManager(which, 'kms:Decrypt', A_VERSION),
    validateKey: throughSecretsManager(which, 'kms:Decrypt', VALIDATION),
  });

  it('lets an account administrator (Allow *:*) administer either secret key, each change alerting, but not decrypt, grant or read', async () => {
    const administrator = stack.principal('AccountAdministrator');
    expect(await forBoth((which) => answers(administrator, rowsFor(which)))).toEqual(
      both({
        putKeyPolicy: 'Allowed',
        scheduleKeyDeletion: 'Allowed',
        disableKey: 'Allowed',
        createGrant: 'ImplicitlyDenied',
        decryptDirectly: 'ImplicitlyDenied',
        getSecretValue: 'Allowed',
        decryptThroughSecretsManager: 'ImplicitlyDenied',
        validateKey: 'ImplicitlyDenied',
      }),
    );
  });

  it('lets a principal of another account (Allow *:* in its own) do none of it', async () => {
    const outsider = stack.principal('OtherAccountAdministrator');
    const allowed = await forBoth(async (which) => {
      const rows = await answers(outsider, rowsFor(which));
      return Object.keys(rows).filter((row) => rows[row] === 'Allowed');
    });
    expect(allowed).toEqual(both([]));
  });
});

describe('who can invoke the operations function', () => {
  const ops = () => stack.id('Operations', 'AWS::Lambda::Function');
  const invoke = (action: string, context: Context): Request => ({
    action,
    resource: stack.value(ops(), 'Arn'),
    resourcePolicy: stack.resourcePolicy(ops()),
    context,
  });

  it('lets the recovery operator role, and principals whose IAM policy allows lambda:* on it, call its URL', async () => {
    expect(
      await stack.who(() => [
        invoke('lambda:InvokeFunctionUrl', { 'lambda:FunctionUrlAuthType': 'AWS_IAM' }),
        invoke('lambda:InvokeFunction', { 'lambda:InvokedViaFunctionUrl': 'true' }),
      ]),
    ).toEqual(['AccountAdministrator', 'DeployRole', 'RecoveryOperatorRole']);
  });

  it('keeps the recovery operator role from invoking it directly, where no verified caller comes with the event', async () => {
    expect(
      await stack.who(() => [
        invoke('lambda:InvokeFunction', { 'lambda:InvokedViaFunctionUrl': 'false' }),
      ]),
    ).toEqual(['AccountAdministrator', 'DeployRole']);
  });
});

describe('who can send to each queue: SendMessage, and the queue key through SQS', () => {
  const sends = (queuePrefix: string) => (): Request[] => {
    const queue = stack.id(queuePrefix, 'AWS::SQS::Queue');
    const key = stack.id('QueueKey', 'AWS::KMS::Key');
    const throughSqs = (action: string): Request => ({
      action,
      resource: stack.value(key, 'Arn'),
      resourcePolicy: stack.resourcePolicy(key),
      context: { 'kms:ViaService': `sqs.${region}.amazonaws.com` },
    });
    return [
      {
        action: 'sqs:SendMessage',
        resource: stack.value(queue, 'Arn'),
        resourcePolicy: stack.resourcePolicy(queue),
      },
      throughSqs('kms:GenerateDataKey'),
      throughSqs('kms:Decrypt'),
    ];
  };

  it('lets producers, the operations function (redrive) and the account IAM-wide send to the queue', async () => {
    expect(await stack.who(sends('Queue4'))).toEqual([
      'AccountAdministrator',
      'DeployRole',
      'OperationsServiceRole',
      'Producer',
    ]);
  });

  it('lets the handler, and the account IAM-wide, send to the dead-letter queue', async () => {
    expect(await stack.who(sends('DeadLetterQueue'))).toEqual([
      'AccountAdministrator',
      'DeployRole',
      'HandlerServiceRole',
    ]);
  });
});

describe('the key alerts', () => {
  it("lets EventBridge publish the key alert rule's events to the alarm topic", async () => {
    const topic = stack.id('MonitoringAlarms', 'AWS::SNS::Topic');
    const eventBridge: Principal = {
      name: 'EventBridge',
      arn: 'events.amazonaws.com',
      account,
      identityPolicies: [],
    };
    const publish = (rule: string) =>
      evaluate(eventBridge, {
        action: 'sns:Publish',
        resource: stack.value(topic),
        resourcePolicy: stack.resourcePolicy(topic),
        context: { 'aws:SourceArn': rule },
      });
    expect(await publish(stack.value(stack.id('KeyAlerts', 'AWS::Events::Rule'), 'Arn'))).toBe(
      'Allowed',
    );
  });
});
