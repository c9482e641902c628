/**
 * CDK app entry (see cdk.json). Context:
 *   -c target=localstack            the LocalStack stack (no VPC, no RDS)
 *   -c alarmEmail=ops@example.com   alarm notifications
 *   -c batchSize=100 -c maxConcurrency=10 -c maxReceiveCount=5
 *   -c recoveryPublicKey=r1:...     from npm run recovery:keygen (PII recovery on)
 *   LocalStack: -c dbHost=postgres -c dbName=logins -c dbUser=postgres -c dbPassword=postgres
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LoginQueueStack } from './login-queue-stack';

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined ? undefined : String(value);
};
const number = (key: string) => (context(key) === undefined ? undefined : Number(context(key)));
const target = context('target') === 'localstack' ? 'localstack' : 'aws';

new LoginQueueStack(app, target === 'localstack' ? 'LoginQueueLocal' : 'LoginQueue', {
  target,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  alarmEmail: context('alarmEmail'),
  batchSize: number('batchSize'),
  maxConcurrency: number('maxConcurrency'),
  maxReceiveCount: number('maxReceiveCount'),
  recoveryPublicKey: context('recoveryPublicKey'),
  externalDatabase:
    target === 'localstack'
      ? {
          host: context('dbHost') ?? 'postgres',
          port: number('dbPort'),
          name: context('dbName') ?? 'logins',
          user: context('dbUser') ?? 'postgres',
          password: context('dbPassword') ?? 'postgres',
        }
      : undefined,
});

// cdk-nag's AWS Solutions rules: any unacknowledged finding stops synthesis.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
