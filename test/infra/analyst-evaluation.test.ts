/**
 * The analysts' path, decided by the IAM policy evaluator over the synthesised templates (as in
 * policy-evaluation.test.ts): who may open a port-forwarding session to the analyst access
 * instance, who may sign in to which database as which database user, and what the AnalystRole
 * still cannot do: read the key secrets, invoke the operations function.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_ROLE, OPERATOR_ROLE, WRITER_ROLE } from '../../lambda/contract/roles';
import {
  type Context,
  EvaluatedStack,
  evaluate,
  type Principal,
  type Request,
} from '../helpers/policy-evaluation';
import { template } from '../helpers/stacks';
import { VARIANTS } from '../helpers/variants';

const { account, region } = VARIANTS.analyst.env;
const at = { account, region, stackName: 'LoginQueue' };
let primaryPath: EvaluatedStack;
let replicaPath: EvaluatedStack;
beforeAll(() => {
  primaryPath = new EvaluatedStack(template('analyst').toJSON(), at);
  replicaPath = new EvaluatedStack(template('analystReplica').toJSON(), at);
});

// AWS-owned documents have no account in their ARN; the account's own (the shell preferences,
// the stack's session document) do.
const awsDocument = (name: string) => `arn:aws:ssm:${region}::document/${name}`;
const SHELL = `arn:aws:ssm:${region}:${account}:document/SSM-SessionManagerRunShell`;
// Set by the CLI, and so by every StartSession request the role's policy has to answer.
const DOCUMENT_CHECK: Context = { 'ssm:SessionDocumentAccessCheck': 'true' };

const instanceArn = (stack: EvaluatedStack) =>
  `arn:aws:ec2:${region}:${account}:instance/${stack.value(stack.id('AnalystAccessInstance', 'AWS::EC2::Instance'))}`;
/** The stack's own port-forwarding document, its host and port fixed to the analysts' database. */
const sessionDocument = (stack: EvaluatedStack) =>
  `arn:aws:ssm:${region}:${account}:document/${stack.value(stack.id('AnalystTunnelDocument', 'AWS::SSM::Document'))}`;

/** StartSession names the target and the document: IAM authorises both. */
const startSession = (target: string, document: string): Request[] => [
  { action: 'ssm:StartSession', resource: target, context: DOCUMENT_CHECK },
  { action: 'ssm:StartSession', resource: document, context: DOCUMENT_CHECK },
];

/** Allowed only when every request is. */
async function allOf(principal: Principal, requests: readonly Request[]): Promise<string> {
  for (const request of requests) {
    const answer = await evaluate(principal, request);
    if (answer !== 'Allowed') return answer;
  }
  return 'Allowed';
}

describe('who may open a session to the analyst access instance', () => {
  it('lets the AnalystRole, and principals whose IAM policy allows ssm:* anywhere, forward a port through it', async () => {
    for (const stack of [primaryPath, replicaPath]) {
      expect(
        await stack.who(() => startSession(instanceArn(stack), sessionDocument(stack))),
      ).toEqual(['AccountAdministrator', 'AnalystRole', 'DeployRole']);
    }
  });

  it('refuses the AnalystRole any other document (a shell, or a tunnel to a host of its choosing), and any other instance', async () => {
    // Arrange
    const analyst = primaryPath.principal('AnalystRole');
    const instance = instanceArn(primaryPath);
    const rows = {
      stackDocument: startSession(instance, sessionDocument(primaryPath)),
      shellByDefault: startSession(instance, SHELL),
      // Any host= and port: the instance metadata service (169.254.169.254:80) among them.
      forwardToAnyHost: startSession(
        instance,
        awsDocument('AWS-StartPortForwardingSessionToRemoteHost'),
      ),
      forwardToTheInstanceItself: startSession(
        instance,
        awsDocument('AWS-StartPortForwardingSession'),
      ),
      interactiveCommand: startSession(instance, awsDocument('AWS-StartInteractiveCommand')),
      ssh: startSession(instance, awsDocument('AWS-StartSSHSession')),
      anotherInstance: startSession(
        `arn:aws:ec2:${region}:${account}:instance/i-0123456789abcdef0`,
        sessionDocument(primaryPath),
      ),
    };
    // Act
    const answers: Record<string, string> = {};
    for (const [label, requests] of Object.entries(rows)) {
      answers[label] = await allOf(analyst, requests);
    }
    // Assert
    expect(answers).toEqual({
      stackDocument: 'Allowed',
      shellByDefault: 'ImplicitlyDenied',
      forwardToAnyHost: 'ImplicitlyDenied',
      forwardToTheInstanceItself: 'ImplicitlyDenied',
      interactiveCommand: 'ImplicitlyDenied',
      ssh: 'ImplicitlyDenied',
      anotherInstance: 'ImplicitlyDenied',
    });
  });

  it('lets the AnalystRole end and resume its own sessions only', async () => {
    // Arrange: a role session's user id is "<role id>:<session name>"; its sessions carry it.
    const analyst = primaryPath.principal('AnalystRole');
    const self = 'AROAEXAMPLEANALYST:ana';
    const session = (owner: string, action: string): Request => ({
      action,
      resource: `arn:aws:ssm:${region}:${account}:session/ana-0a1b2c3d4e5f67890`,
      context: { 'aws:userid': self, 'ssm:resourceTag/aws:ssmmessages:session-id': owner },
    });
    // Act
    const answers = {
      terminateOwn: await evaluate(analyst, session(self, 'ssm:TerminateSession')),
      resumeOwn: await evaluate(analyst, session(self, 'ssm:ResumeSession')),
      terminateAnother: await evaluate(
        analyst,
        session('AROAEXAMPLEOTHER:bob', 'ssm:TerminateSession'),
      ),
      resumeAnother: await evaluate(analyst, session('AROAEXAMPLEOTHER:bob', 'ssm:ResumeSession')),
    };
    // Assert
    expect(answers).toEqual({
      terminateOwn: 'Allowed',
      resumeOwn: 'Allowed',
      terminateAnother: 'ImplicitlyDenied',
      resumeAnother: 'ImplicitlyDenied',
    });
  });
});

describe('who may sign in to the database, as which user (rds-db:connect)', () => {
  const connect =
    (stack: EvaluatedStack, instancePrefix: string, user: string) => (): Request[] => [
      {
        action: 'rds-db:connect',
        resource: `arn:aws:rds-db:${region}:${account}:dbuser:${stack.value(
          stack.id(instancePrefix, 'AWS::RDS::DBInstance'),
          'DbiResourceId',
        )}/${user}`,
      },
    ];
  const ADMINS = ['AccountAdministrator', 'DeployRole'];

  it('lets the AnalystRole sign in to the primary as login_queue_analyst, and as no other user', async () => {
    expect({
      analyst: await primaryPath.who(connect(primaryPath, 'DatabaseInstance', ANALYST_ROLE)),
      writer: await primaryPath.who(connect(primaryPath, 'DatabaseInstance', WRITER_ROLE)),
      operator: await primaryPath.who(connect(primaryPath, 'DatabaseInstance', OPERATOR_ROLE)),
      master: await primaryPath.who(connect(primaryPath, 'DatabaseInstance', 'login_queue')),
    }).toEqual({
      analyst: [...ADMINS, 'AnalystRole'].sort(),
      writer: [...ADMINS, 'HandlerServiceRole'].sort(),
      operator: [...ADMINS, 'OperationsServiceRole'].sort(),
      master: ADMINS,
    });
  });

  it('with a replica, lets the AnalystRole sign in to the replica alone, and no function at all', async () => {
    expect({
      replicaAsAnalyst: await replicaPath.who(connect(replicaPath, 'AnalystReplica', ANALYST_ROLE)),
      replicaAsWriter: await replicaPath.who(connect(replicaPath, 'AnalystReplica', WRITER_ROLE)),
      replicaAsOperator: await replicaPath.who(
        connect(replicaPath, 'AnalystReplica', OPERATOR_ROLE),
      ),
      primaryAsAnalyst: await replicaPath.who(
        connect(replicaPath, 'DatabaseInstance', ANALYST_ROLE),
      ),
    }).toEqual({
      replicaAsAnalyst: [...ADMINS, 'AnalystRole'].sort(),
      replicaAsWriter: ADMINS,
      replicaAsOperator: ADMINS,
      primaryAsAnalyst: ADMINS,
    });
  });
});

describe('what the AnalystRole still cannot do', () => {
  const KEY_SECRETS = {
    masking: { secret: 'MaskingKey', key: 'MaskingSecretKey' },
    recovery: { secret: 'RecoveryKey', key: 'RecoverySecretKey' },
  } as const;
  // GetSecretValue, and the kms:Decrypt of the current version it makes as the caller.
  const reads = (stack: EvaluatedStack, which: keyof typeof KEY_SECRETS): Request[] => {
    const secret = stack.id(KEY_SECRETS[which].secret, 'AWS::SecretsManager::Secret');
    const key = stack.id(KEY_SECRETS[which].key, 'AWS::KMS::Key');
    return [
      {
        action: 'secretsmanager:GetSecretValue',
        resource: stack.value(secret),
        resourcePolicy: stack.resourcePolicy(secret),
      },
      {
        action: 'kms:Decrypt',
        resource: stack.value(key, 'Arn'),
        resourcePolicy: stack.resourcePolicy(key),
        context: {
          'kms:ViaService': `secretsmanager.${region}.amazonaws.com`,
          'kms:EncryptionContext:SecretARN': stack.value(secret),
          'kms:EncryptionContext:SecretVersionId': 'f3a9e8c2-5b1d-4e7a-9c3f-2d8b6a1e0f47',
        },
      },
    ];
  };
  const invokes = (stack: EvaluatedStack): Request[] => {
    const ops = stack.id('Operations', 'AWS::Lambda::Function');
    const on = (action: string, context: Context): Request => ({
      action,
      resource: stack.value(ops, 'Arn'),
      resourcePolicy: stack.resourcePolicy(ops),
      context,
    });
    return [
      on('lambda:InvokeFunctionUrl', { 'lambda:FunctionUrlAuthType': 'AWS_IAM' }),
      on('lambda:InvokeFunction', { 'lambda:InvokedViaFunctionUrl': 'true' }),
    ];
  };

  it('reads neither key secret and invokes no operations function, on either path', async () => {
    for (const stack of [primaryPath, replicaPath]) {
      const analyst = stack.principal('AnalystRole');
      const getSecret = (which: keyof typeof KEY_SECRETS) => reads(stack, which)[0] as Request;
      const decrypt = (which: keyof typeof KEY_SECRETS) => reads(stack, which)[1] as Request;
      expect({
        maskingGetSecretValue: await evaluate(analyst, getSecret('masking')),
        maskingDecrypt: await evaluate(analyst, decrypt('masking')),
        recoveryGetSecretValue: await evaluate(analyst, getSecret('recovery')),
        recoveryDecrypt: await evaluate(analyst, decrypt('recovery')),
        invokeOperations: await allOf(analyst, invokes(stack)),
      }).toEqual({
        maskingGetSecretValue: 'ImplicitlyDenied',
        maskingDecrypt: 'ImplicitlyDenied',
        recoveryGetSecretValue: 'ImplicitlyDenied',
        recoveryDecrypt: 'ImplicitlyDenied',
        invokeOperations: 'ImplicitlyDenied',
      });
    }
  });

  it('leaves who reads each key secret as it was: the analyst path adds no reader', async () => {
    expect({
      masking: await primaryPath.who(() => reads(primaryPath, 'masking')),
      recovery: await replicaPath.who(() => reads(replicaPath, 'recovery')),
    }).toEqual({
      masking: ['HandlerServiceRole', 'OperationsServiceRole', 'RecoveryOperatorRole'],
      recovery: ['OperationsServiceRole', 'RecoveryOperatorRole'],
    });
  });

  it('gives the instance role nothing but the SSM Agent calls: no session, no sign-in, no secret', async () => {
    const instance = primaryPath.principal('AnalystAccessInstanceRole');
    expect({
      startSession: await allOf(
        instance,
        startSession(instanceArn(primaryPath), sessionDocument(primaryPath)),
      ),
      connectAsAnalyst: await allOf(instance, connectRequests(primaryPath, ANALYST_ROLE)),
      readMaskingKey: await allOf(instance, reads(primaryPath, 'masking')),
    }).toEqual({
      startSession: 'ImplicitlyDenied',
      connectAsAnalyst: 'ImplicitlyDenied',
      readMaskingKey: 'ImplicitlyDenied',
    });
  });
});

function connectRequests(stack: EvaluatedStack, user: string): Request[] {
  const id = stack.value(stack.id('DatabaseInstance', 'AWS::RDS::DBInstance'), 'DbiResourceId');
  return [
    {
      action: 'rds-db:connect',
      resource: `arn:aws:rds-db:${region}:${account}:dbuser:${id}/${user}`,
    },
  ];
}
