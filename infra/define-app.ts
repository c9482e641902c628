/**
 * The CDK app's stacks, from context: shared by the app entry (app.ts, run by `cdk`) and the
 * infra tests, so that what the tests synthesise is what `cdk deploy` deploys. Context:
 *   -c target=localstack            the LocalStack stack (no VPC, no RDS)
 *   -c alarmEmail=ops@example.com   alarm notifications
 *   -c batchSize=100 -c maxConcurrency=10 -c maxReceiveCount=5 -c databaseConnectionBudget=N
 *   -c dbInstanceType=m7g.large -c dbMultiAz=true -c dbDeletionProtection=true
 *   -c dbStorageGiB=100 -c dbMaxStorageGiB=1000 -c dbBackupDays=14
 *   -c tracing=true                 X-Ray active tracing on the functions
 *   -c retentionDays=400            drop user_logins partitions wholly older than this (default: keep)
 *   -c partitionGranularity=month   size of new partitions: month (default) or day
 *   -c recoveryPublicKey=r1:...     from npm run recovery:keygen (PII recovery on)
 *   -c recoveryOperators=arn,arn    who may assume the recovery operator role (default: the account)
 *   -c analystAccess=ssm            analysts' Session Manager path to the database (default: none)
 *   -c analysts=arn,arn             who may assume the AnalystRole (default: the account)
 *   -c analystReplica=true          a read replica for analysts, which the path then reaches
 *   LocalStack: -c dbHost=postgres -c dbName=logins -c dbUser=postgres -c dbPassword=postgres
 */
import { type App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LoginQueueStack, type LoginQueueStackProps } from './login-queue-stack';

/** Adds the stack the app's context asks for, with cdk-nag's AWS Solutions rules, and returns it. */
export function defineApp(app: App, env: Environment): LoginQueueStack {
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key);
    return value === undefined ? undefined : String(value);
  };
  const number = (key: string): number | undefined => {
    const value = context(key);
    if (value === undefined) return undefined;
    if (value.trim() === '' || !Number.isFinite(Number(value))) {
      throw new Error(`context ${key} is "${value}"; use a number`);
    }
    return Number(value);
  };
  const boolean = (key: string): boolean | undefined => {
    const value = context(key);
    if (value === undefined || value === 'true' || value === 'false')
      return value && value === 'true';
    throw new Error(`context ${key} is "${value}"; use true or false`);
  };
  const list = (key: string): string[] | undefined =>
    context(key)
      ?.split(',')
      .map((arn) => arn.trim())
      .filter(Boolean);
  const target = context('target') ?? 'aws';
  if (target !== 'aws' && target !== 'localstack') {
    throw new Error(`context target is "${target}"; use aws (the default) or localstack`);
  }

  const stack = new LoginQueueStack(
    app,
    target === 'localstack' ? 'LoginQueueLocal' : 'LoginQueue',
    {
      target,
      env,
      alarmEmail: context('alarmEmail'),
      batchSize: number('batchSize'),
      maxConcurrency: number('maxConcurrency'),
      maxReceiveCount: number('maxReceiveCount'),
      databaseConnectionBudget: number('databaseConnectionBudget'),
      database: {
        instanceType: context('dbInstanceType'),
        multiAz: boolean('dbMultiAz'),
        deletionProtection: boolean('dbDeletionProtection'),
        allocatedStorageGiB: number('dbStorageGiB'),
        maxAllocatedStorageGiB: number('dbMaxStorageGiB'),
        backupRetentionDays: number('dbBackupDays'),
      },
      tracing: boolean('tracing'),
      retentionDays: number('retentionDays'),
      partitionGranularity: context(
        'partitionGranularity',
      ) as LoginQueueStackProps['partitionGranularity'],
      recoveryPublicKey: context('recoveryPublicKey'),
      recoveryOperators: list('recoveryOperators'),
      analystAccess: context('analystAccess') as LoginQueueStackProps['analystAccess'],
      analysts: list('analysts'),
      analystReplica: boolean('analystReplica'),
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
    },
  );
  // cdk-nag's AWS Solutions rules: any unacknowledged finding stops synthesis.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
