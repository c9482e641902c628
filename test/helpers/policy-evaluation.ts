/**
 * Asks an IAM policy evaluator (@cloud-copilot/iam-simulate, AGPL-3.0: a test-only
 * devDependency, never bundled or distributed) what a synthesised template's policies allow:
 * identity policies of its roles and of a few principals it does not contain (an account
 * administrator, cdk bootstrap's deploy role, another account's administrator, a producer), with
 * the key, secret, queue, function and topic policies as the resource policies.
 *
 * The evaluator drops any request context key it does not know for the action, and it knows
 * variable keys only in the `prefix/name` form: `kms:EncryptionContext:SecretARN` would be dropped,
 * making every statement that tests it silently not match. So for KMS actions `evaluate` renames
 * that family on both sides (policies and request) to a key it carries with the same string
 * semantics, refuses policies that use condition keys the questions do not model, and throws when
 * the evaluator still ignores a key: a check cannot pass because a condition went unseen.
 */
import { runSimulation, type SimulationIdentityPolicy } from '@cloud-copilot/iam-simulate';
import { type DeployedAt, resolverFor } from './cfn-resolve';

export type Statement = {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};
export type PolicyDocument = { Version?: string; Statement: Statement[] };
export type Context = Record<string, string | string[]>;

export interface Principal {
  /** The role's logical id without its hash, or the name of a principal outside the template. */
  readonly name: string;
  /** The ARN requests are made as (a role session for roles). */
  readonly arn: string;
  readonly account: string;
  readonly identityPolicies: readonly PolicyDocument[];
}

export interface Request {
  readonly action: string;
  readonly resource: string;
  readonly context?: Context;
  readonly resourcePolicy?: PolicyDocument;
}

/**
 * The condition keys the questions supply whenever AWS would. A policy that uses any other key
 * makes `evaluate` throw: its answer would depend on a value no question gives.
 */
export const MODELLED_CONDITION_KEYS = [
  'aws:SecureTransport',
  'aws:SourceArn',
  'kms:CallerAccount',
  'kms:ViaService',
  'kms:EncryptionContext:SecretARN',
  'kms:EncryptionContext:SecretVersionId',
  'lambda:FunctionUrlAuthType',
  'lambda:InvokedViaFunctionUrl',
  'ssm:SessionDocumentAccessCheck',
  'ssm:resourceTag/aws:ssmmessages:session-id',
] as const;
const MODELLED = new Set(MODELLED_CONDITION_KEYS.map((key) => key.toLowerCase()));

// The evaluator carries `aws:RequestTag/<name>` (a global string key) for every action.
const ENCRYPTION_CONTEXT = /^kms:EncryptionContext:(.+)$/i;
const STAND_IN = 'aws:RequestTag/kms:EncryptionContext:';
const standIn = (key: string) => key.replace(ENCRYPTION_CONTEXT, `${STAND_IN}$1`);
const same = (key: string) => key;

/**
 * An AWS-owned resource (an AWS SSM document) has no account in its ARN, and the evaluator then
 * finds no resource type for it. Such ARNs, in the request and in the policies alike, carry this
 * stand-in account instead (`evaluate` throws if a policy already names it); the request is
 * placed in the caller's account, as AWS does for a resource no other account owns.
 */
const AWS_OWNED = '999999999999';
const ownedByAws = (arn: string) => arn.startsWith('arn:') && arn.split(':')[4] === '';
const standInOwner = (arn: string) => {
  if (!ownedByAws(arn)) return arn;
  const parts = arn.split(':');
  parts[4] = AWS_OWNED;
  return parts.join(':');
};

function standInOwners(policy: PolicyDocument): PolicyDocument {
  const map = (value: unknown) =>
    typeof value === 'string'
      ? standInOwner(value)
      : Array.isArray(value)
        ? value.map((item) => (typeof item === 'string' ? standInOwner(item) : item))
        : value;
  return {
    ...policy,
    Statement: policy.Statement.map((statement) => {
      const mapped: Statement & { NotResource?: unknown } = { ...statement };
      if (statement.Resource !== undefined) {
        mapped.Resource = map(statement.Resource) as string | string[];
      }
      const { NotResource } = statement as { NotResource?: unknown };
      if (NotResource !== undefined) mapped.NotResource = map(NotResource);
      return mapped;
    }),
  };
}

const conditionKeys = (policy: PolicyDocument) =>
  policy.Statement.flatMap((statement) =>
    Object.values(statement.Condition ?? {}).flatMap((block) => Object.keys(block)),
  );

function renamePolicy(policy: PolicyDocument, rename: (key: string) => string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: policy.Statement.map((statement) =>
      statement.Condition === undefined
        ? statement
        : {
            ...statement,
            Condition: Object.fromEntries(
              Object.entries(statement.Condition).map(([operator, block]) => [
                operator,
                Object.fromEntries(Object.entries(block).map(([k, v]) => [rename(k), v])),
              ]),
            ),
          },
    ),
  };
}

/**
 * What the evaluator decides for `principal` making `request`. Throws when the policies use a
 * condition key no question models, when the evaluator rejects its input, or when it ignores a
 * context key it was given.
 */
export async function evaluate(principal: Principal, request: Request): Promise<string> {
  const policies = [
    ...principal.identityPolicies,
    ...(request.resourcePolicy ? [request.resourcePolicy] : []),
  ];
  if (policies.some((policy) => JSON.stringify(policy).includes(`:${AWS_OWNED}:`))) {
    throw new Error(`policy evaluation: the account ${AWS_OWNED} is reserved as AWS's stand-in`);
  }
  const unmodelled = policies
    .flatMap(conditionKeys)
    .filter((key) => !MODELLED.has(key.toLowerCase()));
  if (unmodelled.length > 0) {
    throw new Error(
      `policy evaluation: the policies use condition keys no question models (${[...new Set(unmodelled)].join(', ')}); add them to MODELLED_CONDITION_KEYS and to every request AWS would send them with`,
    );
  }
  const context: Context = { 'aws:SecureTransport': 'true', ...request.context };
  if (request.action.startsWith('kms:')) context['kms:CallerAccount'] ??= principal.account;
  const given = Object.keys(context);
  if ([...given, ...policies.flatMap(conditionKeys)].some((key) => key.startsWith(STAND_IN))) {
    throw new Error(
      `policy evaluation: ${STAND_IN}* is reserved as the encryption context's stand-in`,
    );
  }
  // Only KMS requests carry an encryption context; elsewhere the key is left to be dropped.
  const rename = request.action.startsWith('kms:') ? standIn : same;
  const identityPolicies: SimulationIdentityPolicy[] = principal.identityPolicies.map(
    (policy, index) => ({
      name: `${principal.name}-${index}`,
      policy: standInOwners(renamePolicy(policy, rename)),
    }),
  );
  const result = await runSimulation(
    {
      request: {
        principal: principal.arn,
        action: request.action,
        resource: {
          resource: standInOwner(request.resource),
          accountId: ownedByAws(request.resource) ? principal.account : accountOf(request.resource),
        },
        contextVariables: Object.fromEntries(given.map((key) => [rename(key), context[key] ?? ''])),
      },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy:
        request.resourcePolicy && standInOwners(renamePolicy(request.resourcePolicy, rename)),
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`policy evaluation refused its input: ${JSON.stringify(result.errors)}`);
  }
  if (result.resultType !== 'single') {
    throw new Error(`policy evaluation: ${request.resource} is not one resource`);
  }
  const ignored = result.result.ignoredContextKeys ?? [];
  if (ignored.length > 0) {
    throw new Error(
      `policy evaluation ignored the context keys ${ignored.join(', ')} of ${request.action}: its answer would not depend on them`,
    );
  }
  return result.overallResult;
}

function accountOf(arn: string): string {
  const account = arn.split(':')[4];
  if (account === undefined || !/^\d{12}$/.test(account)) {
    throw new Error(`policy evaluation: ${arn} names no account`);
  }
  return account;
}

export const OTHER_ACCOUNT = '210987654321';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

// AWS managed policies the template attaches, as AWS publishes them: they grant none of the
// actions the questions ask about (kms, secretsmanager, sqs, lambda, sns).
const LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];
const AWS_MANAGED: Record<string, PolicyDocument> = {
  'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole': {
    Statement: [{ Effect: 'Allow', Action: LOGS, Resource: '*' }],
  },
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole': {
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          ...LOGS,
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        Resource: '*',
      },
    ],
  },
};

// The resource types whose policies are another resource, and the property naming the target.
const POLICY_RESOURCES: Record<string, { target: string; document: string }> = {
  'AWS::SQS::QueuePolicy': { target: 'Queues', document: 'PolicyDocument' },
  'AWS::SNS::TopicPolicy': { target: 'Topics', document: 'PolicyDocument' },
  'AWS::SecretsManager::ResourcePolicy': { target: 'SecretId', document: 'ResourcePolicy' },
};

/**
 * A synthesised template, deployed (on paper) as `at`: its principals, with the few outside it,
 * and the resource policy of each of its resources, every intrinsic resolved.
 */
export class EvaluatedStack {
  readonly principals: readonly Principal[];
  private readonly resources: Resources;
  private readonly resolve: (value: unknown) => unknown;

  constructor(template: Record<string, unknown>, at: DeployedAt) {
    if (typeof template.Resources !== 'object' || template.Resources === null) {
      throw new Error('policy evaluation: the template has no Resources');
    }
    this.resources = template.Resources as Resources;
    this.resolve = resolverFor({ Resources: this.resources }, at);
    const { account, region } = at;
    const everything: PolicyDocument = {
      Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
    };
    const roles = this.ofType('AWS::IAM::Role').map((id) => ({
      name: id.replace(/[0-9A-F]{8}$/, ''),
      arn: `arn:aws:sts::${account}:assumed-role/${id}/session`,
      account,
      identityPolicies: this.identityPolicies(id),
    }));
    this.principals = [
      ...roles,
      {
        name: 'AccountAdministrator',
        arn: `arn:aws:sts::${account}:assumed-role/Administrator/session`,
        account,
        identityPolicies: [everything],
      },
      {
        // What `cdk bootstrap` creates (default qualifier), with its default AdministratorAccess.
        name: 'DeployRole',
        arn: `arn:aws:sts::${account}:assumed-role/cdk-hnb659fds-cfn-exec-role-${account}-${region}/session`,
        account,
        identityPolicies: [everything],
      },
      {
        name: 'OtherAccountAdministrator',
        arn: `arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/Administrator/session`,
        account: OTHER_ACCOUNT,
        identityPolicies: [everything],
      },
      {
        // A producer's role with ProducerPolicy attached, as docs/operations/deploy.md tells producers to do.
        name: 'Producer',
        arn: `arn:aws:sts::${account}:assumed-role/Producer/session`,
        account,
        identityPolicies: [this.document(this.id('ProducerPolicy'), 'PolicyDocument')],
      },
    ];
  }

  /** The one resource whose logical id starts with `prefix` (and of `type`, if given). */
  id(prefix: string, type?: string): string {
    const found = Object.keys(this.resources).filter(
      (id) => id.startsWith(prefix) && (type === undefined || this.resources[id]?.Type === type),
    );
    if (found.length !== 1)
      throw new Error(`policy evaluation: ${found.length} resources match ${prefix}`);
    return found[0] as string;
  }

  /** The resource's Ref value, or one of its attributes. */
  value(id: string, attribute?: string): string {
    return this.resolve(attribute ? { 'Fn::GetAtt': [id, attribute] } : { Ref: id }) as string;
  }

  principal(name: string): Principal {
    const found = this.principals.find((p) => p.name === name);
    if (found === undefined) throw new Error(`policy evaluation: no principal ${name}`);
    return found;
  }

  /**
   * The resource policy of `id`: a key's key policy, a function's permissions, or the policy
   * resources (queue, topic, secret) that name it. Undefined when it has none.
   */
  resourcePolicy(id: string): PolicyDocument | undefined {
    const resource = this.resources[id];
    if (resource?.Type === 'AWS::KMS::Key') return this.document(id, 'KeyPolicy');
    if (resource?.Type === 'AWS::Lambda::Function') return this.functionPolicy(id);
    const statements = Object.entries(this.resources).flatMap(([policyId, r]) => {
      const shape = POLICY_RESOURCES[r.Type];
      if (shape === undefined) return [];
      const targets = [r.Properties?.[shape.target]].flat();
      if (!targets.some((target) => JSON.stringify(target) === JSON.stringify({ Ref: id })))
        return [];
      return this.document(policyId, shape.document).Statement;
    });
    return statements.length === 0 ? undefined : { Statement: statements };
  }

  /** The names of the principals allowed every request `requestsOf` makes for them, sorted. */
  async who(requestsOf: (principal: Principal) => readonly Request[]): Promise<string[]> {
    const allowed: string[] = [];
    for (const principal of this.principals) {
      let all = true;
      for (const request of requestsOf(principal)) {
        if ((await evaluate(principal, request)) !== 'Allowed') all = false;
      }
      if (all) allowed.push(principal.name);
    }
    return allowed.sort();
  }

  private ofType(type: string): string[] {
    return Object.keys(this.resources).filter((id) => this.resources[id]?.Type === type);
  }

  private document(id: string, property: string): PolicyDocument {
    const document = this.resources[id]?.Properties?.[property];
    if (document === undefined) throw new Error(`policy evaluation: ${id} has no ${property}`);
    return this.resolve(document) as PolicyDocument;
  }

  private identityPolicies(role: string): PolicyDocument[] {
    const attachedTo = (id: string) =>
      JSON.stringify(this.resources[id]?.Properties?.Roles ?? []).includes(`{"Ref":"${role}"}`);
    const properties = this.resources[role]?.Properties ?? {};
    const inline = ((properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map(
      (policy) => this.resolve(policy.PolicyDocument) as PolicyDocument,
    );
    const managed = ((properties.ManagedPolicyArns as unknown[] | undefined) ?? []).map((arn) => {
      const resolved = this.resolve(arn) as string;
      const known = AWS_MANAGED[resolved];
      if (known === undefined)
        throw new Error(`policy evaluation: unknown managed policy ${resolved}`);
      return known;
    });
    const attached = [...this.ofType('AWS::IAM::Policy'), ...this.ofType('AWS::IAM::ManagedPolicy')]
      .filter(attachedTo)
      .map((id) => this.document(id, 'PolicyDocument'));
    return [...inline, ...managed, ...attached];
  }

  // AWS::Lambda::Permission resources as the statements of the function's resource policy.
  private functionPolicy(id: string): PolicyDocument | undefined {
    const arn = this.value(id, 'Arn');
    const statements = this.ofType('AWS::Lambda::Permission').flatMap(
      (permissionId): Statement[] => {
        const p = this.resolve(this.resources[permissionId]?.Properties) as Record<string, string>;
        if (p.FunctionName !== arn && p.FunctionName !== this.value(id)) return [];
        const principal = p.Principal as string;
        const condition: Record<string, Record<string, string>> = {};
        if (p.SourceArn) condition.ArnLike = { 'aws:SourceArn': p.SourceArn };
        if (p.SourceAccount) condition.StringEquals = { 'aws:SourceAccount': p.SourceAccount };
        if (p.FunctionUrlAuthType) {
          condition.StringEquals = {
            ...condition.StringEquals,
            'lambda:FunctionUrlAuthType': p.FunctionUrlAuthType,
          };
        }
        return [
          {
            Sid: permissionId,
            Effect: 'Allow',
            Principal: principal.endsWith('.amazonaws.com')
              ? { Service: principal }
              : { AWS: principal },
            Action: p.Action,
            Resource: arn,
            ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
          },
        ];
      },
    );
    return statements.length === 0 ? undefined : { Statement: statements };
  }
}
