/**
 * The README's teardown list against the template: what `cdk destroy` leaves behind is
 * exactly what the template keeps (DeletionPolicy Retain, or Snapshot for the database).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

type Resource = { Type: string; DeletionPolicy?: string };

// CDK's logical ids end in an 8-digit hash of the construct path.
const withoutHash = (id: string) => id.replace(/[0-9A-F]{8}$/, '');

function readmeSection(title: string): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf(`\n### ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n#', start + title.length + 6);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe('teardown', () => {
  it('lists in the README every resource the template keeps after cdk destroy, and no other', () => {
    // Arrange: the first column of the Teardown table.
    const listed = readmeSection('Teardown')
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
