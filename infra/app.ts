/**
 * CDK app entry (see cdk.json); the stacks and their context parameters are in define-app.ts.
 */
import { App } from 'aws-cdk-lib';
import { defineApp } from './define-app';

defineApp(new App(), {
  account: process.env.CDK_DEFAULT_ACCOUNT,
  region: process.env.CDK_DEFAULT_REGION,
});
