/**
 * Customer-managed KMS keys whose key policy names every principal that may use them, and the
 * key secrets they protect.
 *
 * A default key policy delegates to IAM (`kms:*` for the account), so anyone whose IAM policy
 * allows kms:Decrypt and secretsmanager:GetSecretValue on `*` (administrators, power users)
 * could read what the key protects. These keys give the account named administration actions
 * only (no kms:CreateGrant, which would let an administrator grant itself Decrypt); using the key
 * (through Secrets Manager) takes a statement in the key policy itself. An administrator can
 * still rewrite the policy, but only as a deliberate change that KeyAlerts reports.
 */
import { DefaultStackSynthesizer, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccountRootPrincipal,
  ArnPrincipal,
  type IPrincipal,
  PolicyDocument,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type CfnSecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/**
 * What the account may do to a key: read its metadata, change its policy, state, rotation,
 * aliases and tags, revoke grants, and schedule or cancel its deletion; nothing that encrypts,
 * decrypts or creates a grant. Nothing in this stack uses a grant on these keys: Secrets Manager
 * "does not use grants to gain access to the KMS key" (Secrets Manager user guide, "Secret
 * encryption and decryption"), and no other service is given them.
 */
export const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:GetKeyLastUsage',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:ListGrants',
  'kms:PutKeyPolicy',
  'kms:UpdateKeyDescription',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
] as const;

/** A rotating key the account can administer but not use; see `allowSecretUse`. */
export function restrictedKey(scope: Construct, id: string, description: string): Key {
  return new Key(scope, id, {
    description,
    enableKeyRotation: true,
    // Deleting the key makes every secret it protects unreadable: keep it with the secrets.
    removalPolicy: RemovalPolicy.RETAIN,
    pendingWindow: Duration.days(30),
    policy: new PolicyDocument({
      statements: [
        new PolicyStatement({
          sid: 'KeyAdministrationOnly',
          principals: [new AccountRootPrincipal()],
          actions: [...ADMIN_ACTIONS],
          resources: ['*'],
        }),
      ],
    }),
  });
}

export const SECRET_USE = {
  /** Read a secret: GetSecretValue decrypts. */
  read: ['kms:Decrypt'],
  /** Write a secret's value: PutSecretValue encrypts under a new data key. */
  write: ['kms:Encrypt', 'kms:GenerateDataKey*'],
} as const;

const viaSecretsManager = (stack: Stack) => `secretsmanager.${stack.region}.${stack.urlSuffix}`;

/** Lets `principal` use `key` through Secrets Manager in this region only (key policy). */
export function allowSecretUse(
  key: Key,
  sid: string,
  principal: IPrincipal,
  actions: readonly string[],
): void {
  key.addToResourcePolicy(
    new PolicyStatement({
      sid,
      principals: [principal],
      actions: [...actions],
      resources: ['*'],
      conditions: { StringEquals: { 'kms:ViaService': viaSecretsManager(Stack.of(key)) } },
    }),
  );
}

/**
 * The principal CloudFormation creates this stack's resources as: the CDK bootstrap's
 * CloudFormation execution role (`cdk-<qualifier>-cfn-exec-role-<account>-<region>`), which
 * `cdk deploy` passes to CloudFormation. Naming it, rather than the account with a
 * kms:CallerAccount condition, keeps administrators out of even the key-validation calls.
 * Throws for a synthesizer without that role (the caller would then be whoever deploys).
 */
export function deployRole(stack: Stack): IPrincipal {
  const synthesizer = stack.synthesizer;
  if (!(synthesizer instanceof DefaultStackSynthesizer)) {
    throw new Error(
      `LoginQueueStack: the key policies name the CloudFormation execution role of cdk bootstrap, but the stack's synthesizer is ${synthesizer.constructor.name}; use DefaultStackSynthesizer (the default) and deploy with the bootstrap roles`,
    );
  }
  // The synthesizer's ARN carries ${AWS::Partition}-style placeholders for the asset manifest.
  return new ArnPrincipal(Fn.sub(synthesizer.cloudFormationExecutionRoleArn));
}

/** The value of AWS::StackId's last part: a UUID that is new with every stack creation. */
const stackUuid = (stack: Stack) => Fn.select(2, Fn.split('/', stack.stackId));

/**
 * A secret created with no value, encrypted under `key`, whose key policy lets CloudFormation
 * create it. CloudFormation regenerates a `GenerateSecretString` whenever that block changes,
 * silently replacing what operators stored; a secret without one is never written by a template
 * change (its first value comes from lambda/aws/secret-init.ts or an operator). The key is set on
 * the L1 resource: Secret's `encryptionKey` would add a key-policy statement letting every
 * principal of the account use the key through Secrets Manager, which is exactly what the key's
 * own policy must not allow.
 *
 * The name ends in the stack's UUID, so that the key policy can name the secret's ARN before the
 * secret exists, and a retry after a failed first deploy is not refused by the secret that the
 * failed try retained.
 */
export function keySecret(scope: Construct, id: string, description: string, key: Key): Secret {
  const stack = Stack.of(scope);
  const secretName = Fn.join('/', [stack.stackName, id, stackUuid(stack)]);
  const secret = new Secret(scope, id, {
    description,
    secretName,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const resource = secret.node.defaultChild as CfnSecret;
  resource.addPropertyDeletionOverride('GenerateSecretString');
  resource.kmsKeyId = key.keyArn;
  // Secrets Manager user guide, "Secret encryption and decryption", "Validating access to the
  // KMS key": "When you establish or change the KMS key that is associated with secret, Secrets
  // Manager calls the GenerateDataKey and Decrypt operations with the specified KMS key. These
  // calls confirm that the caller has permission to use the KMS key for these operation. Secrets
  // Manager discards the results of these operations [...]. You can identify these validation
  // calls because the value of the SecretVersionId key encryption context in these requests is
  // RequestToValidateKeyAccess." And, under "Secrets Manager encryption context": "In these
  // validation requests, the value of the SecretARN is the actual ARN of the secret".
  // CreateSecret with KmsKeyId establishes the key, as the caller: CloudFormation's role.
  // The statement opens no real version: a version's data key is bound to its own
  // SecretVersionId, which is 32 to 64 characters long (API reference, SecretVersionsListEntry),
  // so never the 26 of "RequestToValidateKeyAccess", and KMS decrypts under the same context only.
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: `CloudFormationCreates${id}`,
      principals: [deployRole(stack)],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: {
        StringEquals: {
          'kms:ViaService': viaSecretsManager(stack),
          'kms:EncryptionContext:SecretVersionId': 'RequestToValidateKeyAccess',
        },
        // A secret's ARN is its name, a hyphen and six random characters.
        StringLike: {
          'kms:EncryptionContext:SecretARN': `arn:${stack.partition}:secretsmanager:${stack.region}:${stack.account}:secret:${secretName}-??????`,
        },
      },
    }),
  );
  return secret;
}
