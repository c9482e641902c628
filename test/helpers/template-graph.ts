/**
 * The dependency graph of a synthesised CloudFormation template, as CloudFormation orders
 * creation: a resource waits for every resource it names through Ref, Fn::GetAtt or Fn::Sub
 * in its properties, and for those in its DependsOn.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

// ${Name} or ${Name.Attribute} in a Fn::Sub string; ${!Literal} is no reference.
const SUB_REFERENCE = /\$\{([^!}][^}]*)\}/g;

/** The logical ids of `template`'s resources that `value` names (pseudo parameters left out). */
export function referencesIn(template: CfnTemplate, value: unknown): Set<string> {
  const found = new Set<string>();
  const add = (name: string) => {
    const id = name.split('.')[0] ?? name;
    if (id in template.Resources) found.add(id);
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, inner] of Object.entries(node)) {
      if (key === 'Ref' && typeof inner === 'string') add(inner);
      else if (key === 'Fn::GetAtt') add(Array.isArray(inner) ? String(inner[0]) : String(inner));
      else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, {}];
        const local = new Set(Object.keys((variables as Record<string, unknown>) ?? {}));
        for (const [, name] of String(text).matchAll(SUB_REFERENCE)) {
          if (name !== undefined && !local.has(name.split('.')[0] ?? name)) add(name);
        }
        walk(variables);
      } else walk(inner);
    }
  };
  walk(value);
  return found;
}

/** What `id` waits for directly: its properties' references and its DependsOn. */
export function directDependencies(template: CfnTemplate, id: string): Set<string> {
  const resource = template.Resources[id];
  if (resource === undefined) throw new Error(`no resource ${id} in the template`);
  const found = referencesIn(template, resource.Properties ?? {});
  for (const dependency of [resource.DependsOn ?? []].flat()) found.add(dependency);
  return found;
}

/** Everything CloudFormation creates before `id`: its dependencies, transitively. */
export function dependenciesOf(template: CfnTemplate, id: string): Set<string> {
  const seen = new Set<string>();
  const pending = [...directDependencies(template, id)];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    pending.push(...directDependencies(template, next));
  }
  return seen;
}
