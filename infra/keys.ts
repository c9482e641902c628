/**
 * Customer-managed KMS keys whose key policy names every principal that may use them.
 *
 * A default key policy delegates to IAM (`kms:*` for the account), so anyone whose IAM policy
 * allows kms:Decrypt and secretsmanager:GetSecretValue on `*` (administrators, power users)
 * could read what the key protects. These keys give the account the key-administration actions
 * only; using the key (through Secrets Manager) takes a statement in the key policy itself.
 * An administrator can still rewrite the policy, but only as a deliberate, logged change.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccountRootPrincipal,
  type IPrincipal,
  PolicyDocument,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

// What administrators need to manage a key, and nothing that encrypts or decrypts.
const ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

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
          actions: ADMIN_ACTIONS,
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

/** Lets `principal` use `key` through Secrets Manager in this region only (key policy). */
export function allowSecretUse(
  key: Key,
  sid: string,
  principal: IPrincipal,
  actions: readonly string[],
): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new PolicyStatement({
      sid,
      principals: [principal],
      actions: [...actions],
      resources: ['*'],
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.${stack.urlSuffix}` },
      },
    }),
  );
}
