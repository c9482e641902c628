import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { describe, expect, inject, it } from 'vitest';
import { stackOf, template } from '../helpers/stacks';
import { CDK_CONTEXT, VARIANTS, type Variant } from '../helpers/variants';

// The run's setup synthesised each variant as `cdk deploy` would: the app's own definition,
// cdk.json's context (the feature flags of a new CDK app included), a concrete account and
// region, cdk-nag and CloudFormation's own validation (schema, best-practice rules).
const report = (variant: Variant) =>
  JSON.parse(readFileSync(join(inject('synthDir'), variant, 'validation-report.json'), 'utf8')) as {
    pluginReports: {
      pluginName: string;
      conclusion: string;
      violations: { ruleName?: string }[];
    }[];
  };

// The one finding that is meant: a stack without retentionDays keeps PII forever, and says so.
const RETENTION_WARNING = 'Annotation::login-queue:retention';

describe('deploy rehearsal', () => {
  it.each(Object.keys(VARIANTS) as Variant[])(
    'synthesises the %s variant with zero findings from cdk-nag and CloudFormation validation',
    (variant) => {
      // A plugin with nothing to report (no finding, nothing acknowledged) is left out.
      const { pluginReports } = report(variant);
      expect(pluginReports.map((plugin) => plugin.pluginName)).toContain('AwsSolutions');
      const keepsForever = !('retentionDays' in VARIANTS[variant].context);
      for (const plugin of pluginReports) {
        const rest = plugin.violations.filter((v) => v.ruleName !== RETENTION_WARNING);
        expect(rest, plugin.pluginName).toEqual([]);
        if (rest.length === plugin.violations.length) expect(plugin.conclusion).toBe('success');
      }
      const warned = pluginReports.some((plugin) =>
        plugin.violations.some((v) => v.ruleName === RETENTION_WARNING),
      );
      expect(warned).toBe(keepsForever);
    },
  );

  it('stops synthesis on a CloudFormation schema error (the validation is live and strict)', () => {
    expect(CDK_CONTEXT['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    const { app, stack } = stackOf();
    const queue = stack.node.findChild('Queue').node.defaultChild as CfnQueue;
    queue.addPropertyOverride('VisibilityTimeout', 'not a number');
    expect(() => app.synth()).toThrow(/CloudFormation Validate/);
  });

  it('sets every feature flag a new CDK app gets', () => {
    for (const [flag, value] of Object.entries(CURRENTLY_RECOMMENDED_FLAGS)) {
      expect(CDK_CONTEXT[flag], flag).toEqual(value);
    }
  });

  it('resolves account and region into the template, as a deploy does', () => {
    expect(JSON.stringify(template('aws').toJSON())).toContain(
      'arn:aws:sqs:eu-west-1:123456789012:',
    );
  });
});
