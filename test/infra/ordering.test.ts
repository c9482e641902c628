/**
 * Deploy-time ordering: a custom resource or trigger runs code while CloudFormation is still
 * creating the stack, so everything that code needs must exist before it runs. Read from the
 * template's dependency graph (Ref, Fn::GetAtt, Fn::Sub, DependsOn, transitively), not from
 * the construct tree: what CloudFormation sees is what orders the deploy.
 */
import { describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';
import {
  type CfnResource,
  type CfnTemplate,
  dependenciesOf,
  referencesIn,
} from '../helpers/template-graph';
import type { Variant } from '../helpers/variants';

// What runs code at deploy time: custom resources (CDK triggers among them) and a rotation
// schedule (Secrets Manager runs the rotation function's testSecret step when it is created).
const runsCode = (type: string) =>
  type.startsWith('Custom::') ||
  type === 'AWS::CloudFormation::CustomResource' ||
  type === 'AWS::SecretsManager::RotationSchedule';
// The properties through which each of them names the code it runs.
const INVOKES = ['ServiceToken', 'HandlerArn', 'RotationLambdaARN'] as const;
const RULES = ['AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress'];

const templates = new Map<Variant, CfnTemplate>();
const templateOf = (variant: Variant): CfnTemplate => {
  let found = templates.get(variant);
  if (found === undefined) {
    found = template(variant).toJSON() as CfnTemplate;
    templates.set(variant, found);
  }
  return found;
};

const resourcesOf = (t: CfnTemplate, ...types: string[]): [string, CfnResource][] =>
  Object.entries(t.Resources).filter(([, resource]) => types.includes(resource.Type));
const named = (t: CfnTemplate, value: unknown, ...types: string[]): string[] =>
  [...referencesIn(t, value)].filter((id) => types.includes(t.Resources[id]?.Type ?? ''));

/** The functions (or the SAR application that holds one) an actor invokes. */
function functionsOf(t: CfnTemplate, actor: CfnResource): string[] {
  const invoked = INVOKES.flatMap((property) => [...referencesIn(t, actor.Properties?.[property])]);
  return invoked.flatMap((id) => {
    const resource = t.Resources[id];
    if (resource?.Type === 'AWS::Lambda::Version' || resource?.Type === 'AWS::Lambda::Alias') {
      return named(t, resource.Properties?.FunctionName, 'AWS::Lambda::Function');
    }
    return ['AWS::Lambda::Function', 'AWS::Serverless::Application'].includes(resource?.Type ?? '')
      ? [id]
      : [];
  });
}

/** What the code of `fn` needs in place before it runs, each with the reason. */
function needsOf(t: CfnTemplate, fn: string): [string, string][] {
  const resource = t.Resources[fn] as CfnResource;
  const needs: [string, string][] = [];
  const roles = named(t, resource.Properties?.Role, 'AWS::IAM::Role');
  for (const [id, policy] of resourcesOf(t, 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy')) {
    if (named(t, policy.Properties?.Roles, 'AWS::IAM::Role').some((r) => roles.includes(r))) {
      needs.push([id, `the role policy of ${fn}`]);
    }
  }
  const groups = named(
    t,
    resource.Type === 'AWS::Serverless::Application'
      ? resource.Properties?.Parameters
      : resource.Properties?.VpcConfig,
    'AWS::EC2::SecurityGroup',
  );
  const peers = new Set<string>();
  for (const [id, rule] of resourcesOf(t, ...RULES)) {
    const touched = named(t, rule.Properties, 'AWS::EC2::SecurityGroup');
    if (!touched.some((group) => groups.includes(group))) continue;
    needs.push([id, `a rule of ${fn}'s security group`]);
    for (const group of touched) if (!groups.includes(group)) peers.add(group);
  }
  const behind = (r: CfnResource, property: string) =>
    named(t, r.Properties?.[property], 'AWS::EC2::SecurityGroup').some((g) => peers.has(g));
  for (const [id, endpoint] of resourcesOf(t, 'AWS::EC2::VPCEndpoint')) {
    if (behind(endpoint, 'SecurityGroupIds')) needs.push([id, `an endpoint ${fn} calls`]);
  }
  for (const [id, database] of resourcesOf(t, 'AWS::RDS::DBInstance')) {
    if (behind(database, 'VPCSecurityGroups')) needs.push([id, `the database ${fn} uses`]);
  }
  return needs;
}

/** Every requirement of an actor, as "<needed> (<why>)". */
const requirementsOf = (t: CfnTemplate, id: string): string[] =>
  functionsOf(t, t.Resources[id] as CfnResource).flatMap((fn) => [
    `${fn} (the code it runs)`,
    ...needsOf(t, fn).map(([needed, why]) => `${needed} (${why})`),
  ]);

const VARIANTS: readonly Variant[] = ['aws', 'localstack', 'analyst', 'analystReplica'];
const actors = VARIANTS.flatMap((variant) =>
  Object.entries(templateOf(variant).Resources)
    .filter(([, resource]) => runsCode(resource.Type))
    .map(([id, resource]) => [variant, id, resource.Type] as const),
);

describe('deploy-time ordering', () => {
  it('finds every kind of deploy-time code the stack has', () => {
    const types = (variant: Variant) =>
      actors.filter(([v]) => v === variant).map(([, , type]) => type);
    expect(types('aws').filter((type) => type === 'Custom::Trigger')).toHaveLength(2);
    expect(types('aws')).toEqual(
      expect.arrayContaining([
        'AWS::SecretsManager::RotationSchedule',
        'Custom::LogRetention',
        'Custom::VpcRestrictDefaultSG',
      ]),
    );
    expect(types('localstack')).toContain('Custom::Trigger');
  });

  it("derives what the code needs from the template: the migration's and the rotation's network", () => {
    // Arrange
    const t = templateOf('aws');
    const [[migration]] = resourcesOf(t, 'Custom::Trigger').filter(([, trigger]) =>
      functionsOf(t, trigger).some((fn) => fn.startsWith('Migrate')),
    ) as [[string, CfnResource]];
    const [[rotation]] = resourcesOf(t, 'AWS::SecretsManager::RotationSchedule') as [
      [string, CfnResource],
    ];
    const kinds = (id: string) =>
      requirementsOf(t, id).map((need) => t.Resources[need.split(' ')[0] ?? '']?.Type);

    // Act / Assert: each kind of need is found, so the check below cannot pass by finding none.
    expect(kinds(migration)).toEqual(
      expect.arrayContaining([
        'AWS::Lambda::Function',
        'AWS::IAM::Policy',
        'AWS::EC2::SecurityGroupEgress',
        'AWS::EC2::SecurityGroupIngress',
        'AWS::EC2::VPCEndpoint',
        'AWS::RDS::DBInstance',
      ]),
    );
    expect(kinds(rotation)).toEqual(
      expect.arrayContaining([
        'AWS::Serverless::Application',
        'AWS::EC2::SecurityGroupEgress',
        'AWS::EC2::SecurityGroupIngress',
        'AWS::EC2::VPCEndpoint',
        'AWS::RDS::DBInstance',
      ]),
    );
  });

  it.each(actors)(
    '%s: %s (%s) is created after its code, role policy, security group rules, endpoints and database',
    (variant, id) => {
      // Arrange
      const t = templateOf(variant);
      const requirements = requirementsOf(t, id);
      expect(
        requirements.length,
        'an actor that runs no code found in the template',
      ).toBeGreaterThan(0);

      // Act
      const before = dependenciesOf(t, id);

      // Assert
      const missing = requirements.filter((need) => !before.has(need.split(' ')[0] ?? ''));
      expect(missing).toEqual([]);
    },
  );
});
