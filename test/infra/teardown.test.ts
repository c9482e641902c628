/**
 * The runbook's teardown list (docs/operations/runbook.md) against the template: what `cdk destroy` leaves behind is
 * exactly what the template keeps (DeletionPolicy Retain, or Snapshot for the database).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

type Resource = { Type: string; DeletionPolicy?: string };

// CDK's logical ids end in an 8-digit hash of the construct path.
const withoutHash = (id: string) => id.replace(/[0-9A-F]{8}$/, '');

/** A section of a documentation page: from its heading (any level) to the next heading. */
function docSection(page: string, title: string): string {
  const text = readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8');
  const heading = new RegExp(`\n#{2,6} ${title}\n`).exec(text);
  expect(heading, `${page}: section "${title}"`).not.toBeNull();
  const start = heading?.index ?? 0;
  const end = text.indexOf('\n#', start + (heading?.[0].length ?? 0));
  return text.slice(start, end === -1 ? undefined : end);
}

describe('teardown', () => {
  it('lists in the runbook every resource the template keeps after cdk destroy, and no other', () => {
    // Arrange: the first column of the Teardown table.
    const listed = docSection('docs/operations/runbook.md', 'Teardown')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1]));

    // Act: the template's resources that a stack deletion does not delete.
    const kept = Object.entries(template('aws').toJSON().Resources as Record<string, Resource>)
      .filter(([, resource]) => ['Retain', 'Snapshot'].includes(resource.DeletionPolicy ?? ''))
      .map(([id]) => withoutHash(id));

    // Assert
    expect(kept.length).toBeGreaterThan(0);
    expect([...listed].sort()).toEqual([...kept].sort());
  });
});
