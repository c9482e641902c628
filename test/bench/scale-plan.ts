/**
 * A short shape of an EXPLAIN (ANALYZE, FORMAT JSON) plan: one line per node, the scans of
 * partitions under an Append folded into one line with their count.
 */

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Strategy?: string;
  readonly 'Actual Rows'?: number;
  readonly 'Actual Loops'?: number;
  readonly 'Actual Total Time'?: number;
  readonly 'Workers Launched'?: number;
  readonly 'Sort Method'?: string;
  readonly 'Sort Space Type'?: string;
  readonly 'Sort Space Used'?: number;
  readonly 'Peak Memory Usage'?: number;
  readonly 'Disk Usage'?: number;
  readonly 'Heap Fetches'?: number;
  readonly 'Subplans Removed'?: number;
  readonly Plans?: readonly PlanNode[];
}

const PARTITION = /user_logins_p\d{4}_\d{2}(?:_\d{2})?/g;

function label(node: PlanNode): string {
  const parts = [node['Node Type']];
  if (node.Strategy && node.Strategy !== 'Plain') parts[0] = `${node.Strategy} ${parts[0]}`;
  if (node['Index Name'])
    parts.push(`using ${node['Index Name'].replace(PARTITION, '<partition>')}`);
  else if (node['Relation Name'])
    parts.push(`on ${node['Relation Name'].replace(PARTITION, '<partition>')}`);
  return parts.join(' ');
}

function details(node: PlanNode): string {
  const out = [`rows ${Math.round((node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1))}`];
  if (node['Actual Total Time'] !== undefined)
    out.push(`${node['Actual Total Time'].toFixed(1)} ms`);
  if (node['Workers Launched']) out.push(`${node['Workers Launched']} workers`);
  if (node['Sort Method']) {
    out.push(`${node['Sort Method']} (${node['Sort Space Type']} ${node['Sort Space Used']} kB)`);
  }
  if (node['Disk Usage']) out.push(`disk ${node['Disk Usage']} kB`);
  if (node['Heap Fetches'] !== undefined) out.push(`heap fetches ${node['Heap Fetches']}`);
  return out.join(', ');
}

function lines(node: PlanNode, depth: number): string[] {
  const indent = '  '.repeat(depth);
  const children = node.Plans ?? [];
  if (
    (node['Node Type'] === 'Append' || node['Node Type'] === 'Merge Append') &&
    children.length > 0
  ) {
    const kinds = new Map<string, PlanNode[]>();
    for (const child of children)
      kinds.set(label(child), [...(kinds.get(label(child)) ?? []), child]);
    const removed = node['Subplans Removed']
      ? `, ${node['Subplans Removed']} pruned at run time`
      : '';
    const head = `${indent}${node['Node Type']}: ${children.length} partitions scanned${removed} (${details(node)})`;
    const out = [head];
    for (const [kind, group] of kinds) {
      const rows = group.reduce(
        (sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1),
        0,
      );
      const first = group[0] as PlanNode;
      out.push(`${indent}  ${group.length} × ${kind} (rows ${Math.round(rows)} in all)`);
      for (const grandchild of first.Plans ?? []) out.push(...lines(grandchild, depth + 2));
    }
    return out;
  }
  return [
    `${indent}${label(node)} (${details(node)})`,
    ...children.flatMap((c) => lines(c, depth + 1)),
  ];
}

/** The plan's shape, one line per node, from EXPLAIN's JSON output. */
export function planShape(json: unknown): string[] {
  const [root] = json as {
    Plan: PlanNode;
    'Planning Time'?: number;
    'Execution Time'?: number;
    JIT?: { Timing?: { Total?: number } };
  }[];
  if (root === undefined) return [];
  const jit = root.JIT?.Timing?.Total;
  return [
    ...lines(root.Plan, 0),
    `planning ${root['Planning Time']?.toFixed(1)} ms, execution ${root['Execution Time']?.toFixed(1)} ms` +
      (jit === undefined ? '' : ` (JIT ${jit.toFixed(1)} ms of it)`),
  ];
}
