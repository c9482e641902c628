/**
 * The operations function: the operator commands (unmask, rekey, DLQ peek and redrive,
 * forget), run where the data is, as the operator role, behind a function URL that only the
 * recovery operator role may invoke (SigV4, AuthType AWS_IAM).
 */
import { Duration, Fn, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { Env } from '../lambda/contract/env';
import { OPERATOR_ROLE } from '../lambda/contract/roles';
import { executionRole, loginQueueFunction, TELEMETRY } from './function-defaults';
import type { MaskingKeyRing, RecoveryKeyRing } from './key-secrets';
import { allowSecretUse, SECRET_USE } from './keys';
import type { LoginDatabase } from './login-database';
import type { LoginQueues } from './queues';

export interface OperationsFunctionProps {
  readonly queues: LoginQueues;
  readonly masking: MaskingKeyRing;
  /** Its operator role is the only caller. */
  readonly recovery: RecoveryKeyRing;
  readonly database: LoginDatabase;
  /** X-Ray active tracing. @default false */
  readonly tracing?: boolean;
}

/** Creates the function in `scope` (the stack) under the id Operations, with its URL and grants. */
export class OperationsFunction {
  readonly function: NodejsFunction;
  /** The function URL with the function's ARN, which the CLI binds each caller proof to. */
  readonly url: string;

  constructor(scope: Construct, props: OperationsFunctionProps) {
    const { queues, masking, recovery, database } = props;
    const ops = loginQueueFunction(scope, 'Operations', {
      entry: 'ops',
      xray: props.tracing,
      description:
        'login-queue operations: unmask, rekey, DLQ peek and redrive, forget (function URL, IAM)',
      // rekey runs in bounded batches and resumes where a timed-out run stopped.
      timeout: Duration.minutes(15),
      environment: {
        ...database.environment,
        ...database.loginEnvironment(OPERATOR_ROLE),
        ...TELEMETRY,
        [Env.MASKING_SECRET_ID]: masking.secret.secretArn,
        [Env.RECOVERY_SECRET_ID]: recovery.secret.secretArn,
        [Env.DLQ_URL]: queues.deadLetterQueue.queueUrl,
        [Env.SOURCE_QUEUE_URL]: queues.queue.queueUrl,
        // Only this role's sessions may call, as STS names them from each request's proof.
        [Env.OPERATOR_ROLE_ARN]: recovery.operatorRole.roleArn,
      },
      ...database.network,
    });
    ops.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [recovery.secret.secretArn, masking.secret.secretArn],
      }),
    );
    const role = executionRole(ops);
    allowSecretUse(recovery.key, 'OperationsReadsRecoveryKeyRing', role, SECRET_USE.read);
    allowSecretUse(masking.key, 'OperationsReadsMaskingKeyRing', role, SECRET_USE.read);
    database.grantLogin(ops, OPERATOR_ROLE);
    // Peek, redrive and forget: receive, release, delete and move on the DLQ; send to the
    // source queue (redrive).
    queues.deadLetterQueue.grantConsumeMessages(ops);
    queues.deadLetterQueue.grant(ops, 'sqs:StartMessageMoveTask');
    queues.queue.grantSendMessages(ops);
    const url = ops.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    // lambda:InvokeFunctionUrl, and lambda:InvokeFunction only when invoked via the URL (both
    // needed for URLs created since October 2025), on the role's own policy alone.
    url.grantInvokeUrl(recovery.operatorRole);
    database.allowConnectionsFrom(ops, 'secretsManager', 'sqs', 'sts');
    for (const action of ['kms:GenerateDataKey*', 'kms:ReEncrypt*']) {
      Validations.of(ops).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason:
          "From grantSendMessages on the SSE-KMS source queue (redrive): the data-key actions SQS needs, on the queue's key alone.",
      });
    }
    this.function = ops;
    this.url = Fn.join('', [url.url, '?function=', ops.functionArn]);
  }
}
