/**
 * Synthesised templates of both targets, built once per test file (bundling included).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll } from 'vitest';
import { LoginQueueStack, type LoginQueueStackProps } from '../../infra/login-queue-stack';

// One synth directory per test file, removed after it (CDK would leave a temporary cdk.out,
// bundles included, per app).
const OUTDIR = mkdtempSync(join(tmpdir(), 'login-queue-cdk-'));
afterAll(() => rmSync(OUTDIR, { recursive: true, force: true }));
let apps = 0;

export const LOCAL_DATABASE = {
  host: 'postgres',
  name: 'logins',
  user: 'postgres',
  password: 'postgres',
};

/** A fresh app and stack (not yet synthesised) with cdk-nag's AWS Solutions rules as a validation plugin. */
export function stackOf(props: LoginQueueStackProps = {}): { app: App; stack: LoginQueueStack } {
  const app = new App({ outdir: join(OUTDIR, String(apps++)) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new LoginQueueStack(
    app,
    props.target === 'localstack' ? 'LoginQueueLocal' : 'LoginQueue',
    {
      alarmEmail: 'ops@example.com',
      ...props,
    },
  );
  return { app, stack };
}

/** The synthesised template of a fresh stack. */
export function synth(props: LoginQueueStackProps = {}): { template: Template } {
  return { template: Template.fromStack(stackOf(props).stack) };
}
