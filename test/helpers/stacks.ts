/**
 * Templates of every stack variant, synthesised once per run by synth-setup.ts, and unbundled
 * stacks for the tests that check construction itself (prop validation, cdk-nag being live).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS, CDK_APP_MODE_CONTEXT } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, inject } from 'vitest';
import { LoginQueueStack, type LoginQueueStackProps } from '../../infra/login-queue-stack';
import { CDK_CONTEXT, type Variant } from './variants';

export { LOCAL_DATABASE } from './variants';

const templates = new Map<Variant, Template>();

/** The template of a variant, as the app synthesised it (shared, read-only). */
export function template(variant: Variant): Template {
  let found = templates.get(variant);
  if (found === undefined) {
    const file = join(inject('synthDir'), `${variant}.template.json`);
    found = Template.fromJSON(JSON.parse(readFileSync(file, 'utf8')));
    templates.set(variant, found);
  }
  return found;
}

/** The recovery public key the `recovery` variant was synthesised with. */
export const recoveryPublicKey = (): string => inject('recoveryPublicKey');

let outdir: string | undefined;
afterAll(() => {
  if (outdir !== undefined) rmSync(outdir, { recursive: true, force: true });
});
let apps = 0;

/**
 * A fresh app and stack with cdk.json's context, not yet synthesised and with no bundling
 * (fast), with cdk-nag's AWS Solutions rules as a validation plugin.
 */
export function stackOf(props: LoginQueueStackProps = {}): { app: App; stack: LoginQueueStack } {
  outdir ??= mkdtempSync(join(tmpdir(), 'login-queue-cdk-'));
  const app = new App({
    outdir: join(outdir, String(apps++)),
    context: { ...CDK_CONTEXT, [BUNDLING_STACKS]: [], [CDK_APP_MODE_CONTEXT]: 'inmemory' },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new LoginQueueStack(
    app,
    props.target === 'localstack' ? 'LoginQueueLocal' : 'LoginQueue',
    { alarmEmail: 'ops@example.com', ...props },
  );
  return { app, stack };
}
