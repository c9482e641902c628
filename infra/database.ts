/**
 * The private network and PostgreSQL database of the AWS target: isolated subnets only (no
 * NAT, no internet), interface endpoints for the AWS APIs the function calls, and an
 * encrypted RDS PostgreSQL instance that only accepts TLS and is reachable from nothing
 * but the security groups granted explicitly.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  type IConnectable,
  InstanceClass,
  InstanceSize,
  InstanceType,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import {
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  ParameterGroup,
  PostgresEngineVersion,
} from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface LoginDatabaseProps {
  /** @default InstanceType t4g.micro */
  readonly instanceType?: InstanceType;
  /** @default false (one AZ; set true for production) */
  readonly multiAz?: boolean;
  /** @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
}

export const DATABASE_NAME = 'logins';
export const DATABASE_USER = 'login_queue';

export class LoginDatabase extends Construct {
  readonly vpc: Vpc;
  readonly instance: DatabaseInstance;
  readonly secret: ISecret;

  constructor(scope: Construct, id: string, props: LoginDatabaseProps = {}) {
    super(scope, id);
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.42.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'isolated', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // AwsSolutions-VPC7: the flow log records who talks to the database.
      flowLogs: { all: {} },
    });
    // Without a NAT the function reaches these AWS APIs through private endpoints only.
    for (const [name, service] of [
      ['SecretsManager', InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Sqs', InterfaceVpcEndpointAwsService.SQS],
    ] as const) {
      this.vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
    }
    const engine = DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_17 });
    this.instance = new DatabaseInstance(this, 'Instance', {
      engine,
      instanceType: props.instanceType ?? InstanceType.of(InstanceClass.T4G, InstanceSize.MICRO),
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      databaseName: DATABASE_NAME,
      credentials: Credentials.fromGeneratedSecret(DATABASE_USER),
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: props.multiAz ?? false,
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      backupRetention: Duration.days(7),
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      enablePerformanceInsights: false,
      cloudwatchLogsExports: ['postgresql'],
      parameterGroup: new ParameterGroup(this, 'Parameters', {
        engine,
        // Refuse any connection that is not TLS.
        parameters: { 'rds.force_ssl': '1' },
      }),
    });
    const secret = this.instance.secret;
    if (secret === undefined) throw new Error('the database instance has no generated secret');
    this.secret = secret;
    // The password rotates monthly; the function reads it per new connection (cached briefly).
    this.instance.addRotationSingleUser({ automaticallyAfter: Duration.days(30) });

    const acknowledge = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    if (!props.multiAz) {
      acknowledge(
        this.instance,
        'AwsSolutions::AwsSolutions-RDS3',
        'Single-AZ keeps the default cheap; set multiAz: true for production.',
      );
    }
    if (props.removalPolicy !== RemovalPolicy.RETAIN) {
      acknowledge(
        this.instance,
        'AwsSolutions::AwsSolutions-RDS10',
        'Deletion protection follows databaseRemovalPolicy (RETAIN enables it); the default keeps a snapshot on delete.',
      );
    }
    acknowledge(
      this.instance,
      'AwsSolutions::AwsSolutions-RDS11',
      'A non-default port adds nothing here: isolated subnets, and the security group admits only the pipeline functions.',
    );
    acknowledge(
      this.vpc,
      'AwsSolutions::AwsSolutions-EC23',
      'The interface endpoint security groups admit HTTPS from the VPC CIDR only (a token cdk-nag cannot resolve).',
    );
  }

  /** Opens PostgreSQL's port to `peer`, and only to it. */
  allowFrom(peer: IConnectable): void {
    this.instance.connections.allowDefaultPortFrom(peer, 'login-queue function to PostgreSQL');
  }
}
