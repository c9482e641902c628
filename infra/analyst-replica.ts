/**
 * The analysts' read replica (opt-in, AWS target): an RDS read replica of the instance, of the
 * same class, in the same isolated subnets, with IAM sign-in on and a security group that
 * admits only what is granted (the analyst access instance). No function is ever pointed at
 * it, so analysts' scans never compete with the pipeline's writes for the primary's cores.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DatabaseInstanceEngine,
  DatabaseInstanceReadReplica,
  ParameterGroup,
  PerformanceInsightRetention,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import type { Construct } from 'constructs';
import { ENGINE_VERSION } from './database-sizing';
import { type RdsDatabase, SERVER_PARAMETERS, SIGN_IN_LOG_PARAMETERS } from './rds-database';

/**
 * Creates the replica in `scope` (the stack) under the ids AnalystReplica,
 * AnalystReplicaSecurityGroup and AnalystReplicaParameters.
 */
export class AnalystReplica {
  readonly instance: DatabaseInstanceReadReplica;

  constructor(scope: Construct, database: RdsDatabase) {
    const engine = DatabaseInstanceEngine.postgres({ version: ENGINE_VERSION });
    this.instance = new DatabaseInstanceReadReplica(scope, 'AnalystReplica', {
      sourceDatabaseInstance: database.instance,
      instanceType: database.sizing.instanceType,
      vpc: database.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      // PostgreSQL answers and never calls out; the analyst access grants itself the port.
      securityGroups: [
        new SecurityGroup(scope, 'AnalystReplicaSecurityGroup', {
          vpc: database.vpc,
          description: 'login-queue analyst replica: the analyst access instance only, no egress',
          allowAllOutbound: false,
        }),
      ],
      // Analysts sign in as login_queue_analyst with an IAM token; the role and its grants
      // replicate from the primary.
      iamAuthentication: true,
      // Encrypted with the primary's key: RDS encrypts a replica of an encrypted instance, and
      // CloudFormation refuses StorageEncrypted beside SourceDBInstanceIdentifier.
      publiclyAccessible: false,
      multiAz: false,
      // A replica starts with the primary's allocated storage; it grows as the primary does,
      // up to the same cap, and on gp3 rather than the construct's default gp2.
      storageType: StorageType.GP3,
      maxAllocatedStorage: database.sizing.maxAllocatedStorageGiB,
      // A replica holds nothing the primary does not: deleting it loses no data.
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
      enablePerformanceInsights: true,
      performanceInsightRetention: PerformanceInsightRetention.DEFAULT,
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: RetentionDays.ONE_MONTH,
      parameterGroup: new ParameterGroup(scope, 'AnalystReplicaParameters', {
        engine,
        description: 'login-queue analyst replica: the primary settings, sign-ins logged',
        parameters: {
          ...SERVER_PARAMETERS,
          ...SIGN_IN_LOG_PARAMETERS,
          // Replay waits up to 5 minutes for an analyst query that reads rows it would remove,
          // rather than cancelling the query after RDS's default 30 s; the lag alarm allows it.
          max_standby_streaming_delay: '300000',
          max_standby_archive_delay: '300000',
        },
      }),
    });
    const acknowledge = (id: string, reason: string) =>
      Validations.of(this.instance).acknowledge({ id: `AwsSolutions::${id}`, reason });
    acknowledge(
      'AwsSolutions-RDS2',
      'Encrypted: RDS encrypts the replica of an encrypted instance with its key; CloudFormation refuses the StorageEncrypted property on a replica, which is what this rule reads.',
    );
    acknowledge(
      'AwsSolutions-RDS3',
      'Single-AZ: the replica serves analysts only and is rebuilt from the primary if its zone fails.',
    );
    acknowledge(
      'AwsSolutions-RDS10',
      'A read replica holds no data the primary lacks; deleting it loses nothing.',
    );
    acknowledge(
      'AwsSolutions-RDS11',
      'A non-default port adds nothing here: isolated subnets, and the security group admits only the analyst access instance.',
    );
    acknowledge(
      'AwsSolutions-RDS13',
      'RDS for PostgreSQL read replicas take no automated backups; the primary is backed up.',
    );
  }
}
