/**
 * The two key rings in Secrets Manager, each under its own restricted KMS key (keys.ts): the
 * masking key ring (HMAC keys), whose first value a deploy-time function writes, and the
 * recovery private key ring, with the operator role that alone may read and write both.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRootPrincipal,
  ArnPrincipal,
  CompositePrincipal,
  type IPrincipal,
  ManagedPolicy,
  PolicyStatement,
  Role,
} from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Trigger } from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { Env, LibraryEnv } from '../lambda/contract/env';
import { SERVICE } from '../lambda/contract/metrics';
import { FIRST_VERSION } from '../lambda/contract/secrets';
import { executionRole, loginQueueFunction } from './function-defaults';
import { allowSecretUse, keySecret, restrictedKey, SECRET_USE } from './keys';

/**
 * The masking key ring: its first value is written at deploy time by the SecretInit trigger
 * (lambda/aws/secret-init.ts), never by CloudFormation. With the HMAC key every IPv4 token can
 * be reversed by brute force, so its KMS key names each principal that may use it. Created in
 * `scope` (the stack) under the ids MaskingSecretKey and MaskingKey.
 */
export class MaskingKeyRing {
  readonly key: Key;
  readonly secret: Secret;

  constructor(private readonly scope: Construct) {
    this.key = restrictedKey(
      scope,
      'MaskingSecretKey',
      'login-queue: the masking key ring secret (HMAC keys)',
    );
    this.secret = keySecret(
      scope,
      'MaskingKey',
      'login-queue masking key ring (HMAC keys for ip and device_id tokens)',
      this.key,
    );
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The masking key is a key ring rotated by the documented procedure (new key id, then re-key); an automatic rotation would silently change every token.',
    });
  }

  /**
   * Gives the secret its first key ring at deploy time, once, before `mapping` exists; a stored
   * ring is never touched. Adds the SecretInit function and its InitialiseSecretsOnDeploy trigger.
   */
  initialiseOnDeploy(mapping: EventSourceMapping, tracing: boolean | undefined): void {
    const stack = Stack.of(this.scope);
    const secretInit = loginQueueFunction(this.scope, 'SecretInit', {
      entry: 'secret-init',
      xray: tracing,
      description: 'login-queue: writes the first masking key ring (run at deploy time)',
      timeout: Duration.minutes(1),
      environment: {
        [Env.MASKING_SECRET_ID]: this.secret.secretArn,
        [Env.POWERTOOLS_SERVICE_NAME]: SERVICE,
        [LibraryEnv.POWERTOOLS_LOG_LEVEL]: 'INFO',
      },
    });
    secretInit.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:PutSecretValue'],
        resources: [this.secret.secretArn],
      }),
    );
    // Encrypting the first version only (lambda/aws/secret-init.ts): once it exists KMS refuses
    // the initialiser every other version and Secrets Manager refuses to rewrite that one, so
    // the grant is spent with the first value; DescribeSecret is all it keeps. No kms:Decrypt:
    // it never reads the ring, not even to compare a repeated write.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'InitialiserWritesFirstKeyRing',
        principals: [executionRole(secretInit)],
        actions: [...SECRET_USE.write],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}`,
            'kms:EncryptionContext:SecretVersionId': FIRST_VERSION,
          },
        },
      }),
    );
    new Trigger(this.scope, 'InitialiseSecretsOnDeploy', {
      handler: secretInit,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(1),
    }).executeBefore(mapping);
  }
}

export interface RecoveryKeyRingProps {
  /** The masking key ring, which the operator role may read and write too. */
  readonly masking: MaskingKeyRing;
  /** IAM principals (ARNs) that may assume the operator role. @default the account */
  readonly operators?: readonly string[];
}

/**
 * The recovery private key ring and the recovery operator role, the only principal able to
 * decrypt it and to write the key secrets. The functions may seal but never open: they get the
 * public key, not this secret, which stays empty until an operator stores the ring from
 * `npm run recovery:keygen`. Created in `scope` (the stack) under the ids RecoverySecretKey,
 * RecoveryKey, RecoveryOperatorRole and RecoveryOperatorPolicy.
 */
export class RecoveryKeyRing {
  readonly key: Key;
  readonly secret: Secret;
  /** Recover PII, re-key, redrive (through the operations function); rotate the key secrets. */
  readonly operatorRole: Role;
  readonly operatorPolicy: ManagedPolicy;

  constructor(scope: Construct, props: RecoveryKeyRingProps) {
    const { masking } = props;
    this.key = restrictedKey(
      scope,
      'RecoverySecretKey',
      'login-queue: the recovery private key secret (only the recovery operator role decrypts)',
    );
    this.secret = keySecret(
      scope,
      'RecoveryKey',
      'login-queue recovery private key ring (X25519); fill it with npm run recovery:keygen',
      this.key,
    );
    const operators: IPrincipal =
      props.operators && props.operators.length > 0
        ? new CompositePrincipal(...props.operators.map((arn) => new ArnPrincipal(arn)))
        : new AccountRootPrincipal();
    this.operatorRole = new Role(scope, 'RecoveryOperatorRole', {
      assumedBy: operators,
      description:
        'login-queue: recover PII, re-key, redrive (through the operations function), store and rotate the key secrets',
      maxSessionDuration: Duration.hours(1),
    });
    this.operatorPolicy = new ManagedPolicy(scope, 'RecoveryOperatorPolicy', {
      description:
        'The recovery operator role: read and write the recovery and masking key secrets',
      statements: [
        new PolicyStatement({
          actions: [
            'secretsmanager:GetSecretValue',
            'secretsmanager:DescribeSecret',
            'secretsmanager:PutSecretValue',
          ],
          resources: [this.secret.secretArn, masking.secret.secretArn],
        }),
      ],
      roles: [this.operatorRole],
    });
    for (const [key, sid] of [
      [this.key, 'RecoveryOperatorUsesRecoveryKey'],
      [masking.key, 'RecoveryOperatorUsesMaskingKey'],
    ] as const) {
      allowSecretUse(key, sid, this.operatorRole, [...SECRET_USE.read, ...SECRET_USE.write]);
    }
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The recovery key pair is generated offline (npm run recovery:keygen) and rotated by the documented procedure; Secrets Manager cannot generate X25519 keys.',
    });
  }
}
