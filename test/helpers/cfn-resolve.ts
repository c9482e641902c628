/**
 * Turns a synthesised template's intrinsic functions (Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
 * Fn::Select, Fn::Split) into the concrete strings CloudFormation would produce, so that its
 * policies can be evaluated. Physical names are the logical ids (or the resource's own name
 * property); anything it does not know throws, naming the value, rather than guessing.
 */
export interface DeployedAt {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** The UUID the resolver gives AWS::StackId. */
export const STACK_UUID = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';
/** The six random characters Secrets Manager appends to a secret's name in its ARN. */
export const SECRET_SUFFIX = 'Ab12Cd';

/** A resolver for `template` deployed as `at`: `resolve(value)` returns it with no intrinsic left. */
export function resolverFor(template: { Resources: Resources }, at: DeployedAt) {
  const { account, region, stackName } = at;
  const stackId = `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${STACK_UUID}`;
  const pseudo: Record<string, string> = {
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
    'AWS::StackId': stackId,
  };
  const resources = template.Resources;

  const resourceOf = (id: string) => {
    const found = resources[id];
    if (found === undefined) throw new Error(`cfn-resolve: no resource ${id}`);
    return found;
  };
  // The resource's own name property, if it sets one, else its logical id.
  const nameOf = (id: string, property: string): string => {
    const named = resourceOf(id).Properties?.[property];
    return named === undefined ? id : asString(resolve(named), `${id}.${property}`);
  };

  const arns: Record<string, (id: string) => Record<string, string>> = {
    'AWS::IAM::Role': (id) => ({
      Ref: nameOf(id, 'RoleName'),
      Arn: `arn:aws:iam::${account}:role/${nameOf(id, 'RoleName')}`,
    }),
    'AWS::IAM::ManagedPolicy': (id) => ({
      Ref: `arn:aws:iam::${account}:policy/${nameOf(id, 'ManagedPolicyName')}`,
    }),
    'AWS::KMS::Key': (id) => ({
      Ref: `key-${id}`,
      KeyId: `key-${id}`,
      Arn: `arn:aws:kms:${region}:${account}:key/key-${id}`,
    }),
    'AWS::SecretsManager::Secret': (id) => ({
      Ref: `arn:aws:secretsmanager:${region}:${account}:secret:${nameOf(id, 'Name')}-${SECRET_SUFFIX}`,
    }),
    'AWS::SecretsManager::SecretTargetAttachment': (id) => ({
      Ref: `arn:aws:secretsmanager:${region}:${account}:secret:${id}-${SECRET_SUFFIX}`,
    }),
    'AWS::SQS::Queue': (id) => {
      const name = nameOf(id, 'QueueName');
      return {
        Ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        QueueName: name,
        Arn: `arn:aws:sqs:${region}:${account}:${name}`,
      };
    },
    'AWS::Lambda::Function': (id) => ({
      Ref: nameOf(id, 'FunctionName'),
      Arn: `arn:aws:lambda:${region}:${account}:function:${nameOf(id, 'FunctionName')}`,
    }),
    'AWS::SNS::Topic': (id) => ({
      Ref: `arn:aws:sns:${region}:${account}:${nameOf(id, 'TopicName')}`,
      TopicArn: `arn:aws:sns:${region}:${account}:${nameOf(id, 'TopicName')}`,
    }),
    'AWS::Events::Rule': (id) => ({
      Ref: nameOf(id, 'Name'),
      Arn: `arn:aws:events:${region}:${account}:rule/${nameOf(id, 'Name')}`,
    }),
    'AWS::Logs::LogGroup': (id) => ({
      Ref: nameOf(id, 'LogGroupName'),
      Arn: `arn:aws:logs:${region}:${account}:log-group:${nameOf(id, 'LogGroupName')}:*`,
    }),
    'AWS::SSM::Document': (id) => ({ Ref: nameOf(id, 'Name') }),
    // Ids inside ARNs that no question of the tests is about.
    'AWS::RDS::DBInstance': (id) => ({ Ref: id, DbiResourceId: `db-${id}` }),
    'AWS::EC2::VPC': (id) => ({ Ref: `vpc-${id}`, DefaultSecurityGroup: `sg-${id}` }),
    'AWS::EC2::Instance': (id) => ({ Ref: `i-${id}` }),
  };

  const attribute = (id: string, name: string): string => {
    const { Type } = resourceOf(id);
    const value = arns[Type]?.(id)[name];
    if (value === undefined)
      throw new Error(`cfn-resolve: cannot resolve ${name} of ${id} (${Type})`);
    return value;
  };

  const sub = (text: string, variables: Record<string, unknown>): string =>
    text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name in variables) return asString(resolve(variables[name]), name);
      if (name in pseudo) return pseudo[name] as string;
      const [id, attr] = name.split('.');
      return attr === undefined ? attribute(name, 'Ref') : attribute(id as string, attr);
    });

  function resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && /^(Ref|Fn::)/.test(first[0])) {
      const [fn, arg] = first;
      switch (fn) {
        case 'Ref': {
          const name = asString(arg, 'Ref');
          return pseudo[name] ?? attribute(name, 'Ref');
        }
        case 'Fn::GetAtt': {
          const [id, name] = arg as [string, string];
          return attribute(id, name);
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, unknown[]];
          return parts.map((part) => asString(resolve(part), 'Fn::Join')).join(separator);
        }
        case 'Fn::Sub':
          return typeof arg === 'string'
            ? sub(arg, {})
            : sub((arg as [string, Record<string, unknown>])[0], (arg as [string, never])[1]);
        case 'Fn::Select': {
          const [index, list] = arg as [number | string, unknown];
          const items = resolve(list) as unknown[];
          const item = items[Number(index)];
          if (item === undefined) throw new Error(`cfn-resolve: Fn::Select ${index} out of range`);
          return item;
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, unknown];
          return asString(resolve(text), 'Fn::Split').split(separator);
        }
        default:
          throw new Error(`cfn-resolve: unsupported ${fn} in ${JSON.stringify(value)}`);
      }
    }
    return Object.fromEntries(entries.map(([key, inner]) => [key, resolve(inner)]));
  }

  return resolve;
}

function asString(value: unknown, where: string): string {
  if (typeof value !== 'string') {
    throw new Error(`cfn-resolve: ${where} resolved to ${JSON.stringify(value)}, not a string`);
  }
  return value;
}
