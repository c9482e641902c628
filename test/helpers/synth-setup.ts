/**
 * Infra-test setup, once per run: synthesises every stack variant the tests read, through the
 * app's own definition (infra/define-app.ts) with cdk.json's context, a concrete account and
 * region (the shape `cdk deploy` synthesises), cdk-nag and CloudFormation's own validation.
 * Synthesis (bundling and validation included) takes seconds per stack, so it is done here,
 * not in each test file. Any finding fails the setup, and with it the run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { CDK_APP_MODE_CONTEXT } from 'aws-cdk-lib/cx-api';
import type { TestProject } from 'vitest/node';
import { defineApp } from '../../infra/define-app';
import { generateRecoveryKeyPair } from '../../lambda/core/recovery';
import { CDK_CONTEXT, VARIANTS, type Variant } from './variants';

declare module 'vitest' {
  export interface ProvidedContext {
    synthDir: string;
    recoveryPublicKey: string;
  }
}

let dir: string | undefined;

export function setup(project: TestProject): void {
  dir = mkdtempSync(join(tmpdir(), 'login-queue-synth-'));
  const { publicKey } = generateRecoveryKeyPair('r1');
  for (const [name, variant] of Object.entries(VARIANTS) as [
    Variant,
    (typeof VARIANTS)[Variant],
  ][]) {
    const context =
      name === 'recovery' ? { ...variant.context, recoveryPublicKey: publicKey } : variant.context;
    const { account, region } = variant.env;
    const app = new App({
      outdir: join(dir, name),
      context: {
        ...CDK_CONTEXT,
        // What `cdk deploy` would have looked up and cached in cdk.context.json.
        [`availability-zones:account=${account}:region=${region}`]: ['a', 'b', 'c'].map(
          (az) => `${region}${az}`,
        ),
        // Validation findings throw with the report, rather than only setting the exit code.
        [CDK_APP_MODE_CONTEXT]: 'inmemory',
        ...context,
      },
    });
    const stack = defineApp(app, variant.env);
    const assembly = app.synth();
    writeFileSync(
      join(dir, `${name}.template.json`),
      JSON.stringify(assembly.getStackArtifact(stack.artifactId).template),
    );
  }
  project.provide('synthDir', dir);
  project.provide('recoveryPublicKey', publicKey);
}

export function teardown(): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
