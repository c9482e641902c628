/**
 * The example environment for `sam local invoke` (lambda/local/events/env.example.json): SAM
 * applies only variables the template declares on the function, so each one it sets must be
 * one of the LocalStack template's handler.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { template } from '../helpers/stacks';

const EXAMPLE = new URL('../../lambda/local/events/env.example.json', import.meta.url);

describe('env.example.json', () => {
  it("sets only variables the LocalStack template declares on the handler, in SAM's format", () => {
    // Arrange: the handler is the function with the source queue and the DLQ in its environment.
    const functions = Object.values(
      template('localstack').findResources('AWS::Lambda::Function'),
    ) as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }[];
    const handlers = functions
      .map((fn) => fn.Properties.Environment?.Variables ?? {})
      .filter(
        (vars) =>
          'SOURCE_QUEUE_URL' in vars && 'DLQ_URL' in vars && !('RECOVERY_SECRET_ID' in vars),
      );
    expect(handlers).toHaveLength(1);
    // Act
    const parsed = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as {
      Parameters: Record<string, string>;
    };
    const example = parsed.Parameters;
    // Assert
    expect(Object.keys(parsed)).toEqual(['Parameters']);
    expect(Object.keys(example).length).toBeGreaterThan(5);
    expect(Object.keys(example).filter((name) => !(name in (handlers[0] ?? {})))).toEqual([]);
  });
});
