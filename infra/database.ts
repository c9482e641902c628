/**
 * The private network and PostgreSQL database of the AWS target: isolated subnets only (no
 * NAT, no internet), interface endpoints for the AWS APIs the function calls, and an
 * encrypted RDS PostgreSQL instance that only accepts TLS and is reachable from nothing
 * but the security groups granted explicitly.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  type IConnectable,
  InstanceClass,
  InstanceSize,
  InstanceType,
  type InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { AnyPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  ParameterGroup,
  PostgresEngineVersion,
  StorageType,
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
  /** The interface endpoints of the AWS APIs the functions call (no NAT, no internet). */
  readonly endpoints: {
    readonly secretsManager: InterfaceVpcEndpoint;
    readonly sqs: InterfaceVpcEndpoint;
  };

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
      // The default security group admits all traffic between its members: strip its rules.
      restrictDefaultSecurityGroup: true,
    });
    // Without a NAT the functions reach these AWS APIs through private endpoints only, each
    // open to the security groups granted (allowEndpointsFrom) and to this account alone.
    const stack = Stack.of(this);
    const endpoint = (name: string, service: InterfaceVpcEndpointAwsService, arn: string) => {
      const created = this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [
          new SecurityGroup(this, `${name}EndpointSecurityGroup`, {
            vpc: this.vpc,
            description: `${name} endpoint: HTTPS from the login-queue functions only`,
            allowAllOutbound: false,
          }),
        ],
      });
      created.addToPolicy(
        new PolicyStatement({
          sid: 'ThisAccountOnly',
          principals: [new AnyPrincipal()],
          actions: ['*'],
          resources: [arn],
          conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account } },
        }),
      );
      return created;
    };
    this.endpoints = {
      secretsManager: endpoint(
        'SecretsManager',
        InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        stack.formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ),
      sqs: endpoint(
        'Sqs',
        InterfaceVpcEndpointAwsService.SQS,
        stack.formatArn({ service: 'sqs', resource: '*' }),
      ),
    };
    // GetRandomPassword (the rotation function's) names no resource.
    this.endpoints.secretsManager.addToPolicy(
      new PolicyStatement({
        sid: 'RandomPasswordsForThisAccount',
        principals: [new AnyPrincipal()],
        actions: ['secretsmanager:GetRandomPassword'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account } },
      }),
    );
    const engine = DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_17 });
    this.instance = new DatabaseInstance(this, 'Instance', {
      engine,
      instanceType: props.instanceType ?? InstanceType.of(InstanceClass.T4G, InstanceSize.MICRO),
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      // PostgreSQL answers and never calls out.
      securityGroups: [
        new SecurityGroup(this, 'InstanceSecurityGroup', {
          vpc: this.vpc,
          description: 'login-queue PostgreSQL: the granted functions only, no egress',
          allowAllOutbound: false,
        }),
      ],
      databaseName: DATABASE_NAME,
      credentials: Credentials.fromGeneratedSecret(DATABASE_USER),
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: props.multiAz ?? false,
      // The function logs in as its own role with an IAM token (lambda/db/roles.ts).
      iamAuthentication: true,
      storageType: StorageType.GP3,
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
    // The master password rotates monthly. Not at creation: a rotation racing the deploy-time
    // migration (which reads the password) could roll the whole stack back.
    const rotation = new SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: this.vpc,
      description: 'login-queue master password rotation: PostgreSQL and Secrets Manager only',
      allowAllOutbound: false,
    });
    this.instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      rotateImmediatelyOnUpdate: false,
      securityGroup: rotation,
    });
    this.endpoints.secretsManager.connections.allowDefaultPortFrom(rotation);

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

  /** Opens PostgreSQL's port to `peer` (and `peer`'s egress to it), and only to it. */
  allowFrom(peer: IConnectable): void {
    this.instance.connections.allowDefaultPortFrom(peer, 'login-queue function to PostgreSQL');
  }

  /** Opens HTTPS to the given interface endpoints to `peer` (and `peer`'s egress to them). */
  allowEndpointsFrom(peer: IConnectable, ...names: (keyof LoginDatabase['endpoints'])[]): void {
    for (const name of names) {
      this.endpoints[name].connections.allowDefaultPortFrom(
        peer,
        `login-queue function to ${name}`,
      );
    }
  }
}
