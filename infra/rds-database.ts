/**
 * The AWS target's database (a LoginDatabase, login-database.ts): isolated subnets only (no NAT, no internet), interface endpoints for the AWS APIs
 * the functions call, and an encrypted RDS PostgreSQL instance that only accepts TLS, is
 * reachable from nothing but the security groups granted explicitly, and lets each function
 * log in as its own role with an IAM token (lambda/contract/roles.ts).
 */
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  type IConnectable,
  type InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Rule } from 'aws-cdk-lib/aws-events';
import { AnyPrincipal, type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  ParameterGroup,
  PerformanceInsightRetention,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import { CfnApplication } from 'aws-cdk-lib/aws-sam';
import { type ISecret, RotationSchedule } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import { Env, type FunctionEnvironment, LibraryEnv } from '../lambda/contract/env';
import { ENGINE_VERSION, type ResolvedDatabaseSizing } from './database-sizing';
import { retainLogsOf } from './log-retention';
import type { DatabaseLogin, EndpointName, FunctionNetwork, LoginDatabase } from './login-database';
import type { MonitoredDatabase } from './monitoring';

export interface RdsDatabaseProps {
  /** Class, availability, storage and backups (database-sizing.ts). */
  readonly sizing: ResolvedDatabaseSizing;
  /** @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
}

export const DATABASE_NAME = 'logins';

/** The server settings of every instance of the stack (the primary, and a replica if any). */
export const SERVER_PARAMETERS = {
  // Refuse any connection that is not TLS.
  'rds.force_ssl': '1',
  // A frozen Lambda container keeps its connection open; close idle ones after 10
  // minutes (the function reconnects once when a socket died while it was frozen).
  idle_session_timeout: '600000',
  idle_in_transaction_session_timeout: '60000',
  // Errors without the failing statement or the row in their context.
  log_min_error_statement: 'panic',
  log_error_verbosity: 'terse',
} as const;

/**
 * What a server logs when people sign in to it: who connected as which role, from where, and
 * when they left. Session Manager logs no port-forwarding session's content, so this (with
 * CloudTrail's StartSession) is the record of an analyst's access.
 */
export const SIGN_IN_LOG_PARAMETERS = { log_connections: '1', log_disconnections: '1' } as const;
export const DATABASE_USER = 'login_queue';

export class RdsDatabase extends Construct implements LoginDatabase {
  readonly vpc: Vpc;
  readonly instance: DatabaseInstance;
  /** The instance's parameter group (SERVER_PARAMETERS). */
  readonly parameters: ParameterGroup;
  readonly secret: ISecret;
  /** Matches failed rotations of the master password, and only of it (Monitoring targets it). */
  readonly rotationFailed: Rule;
  /** The sizing the instance was built with. */
  readonly sizing: ResolvedDatabaseSizing;
  /** The interface endpoints of the AWS APIs the functions call (no NAT, no internet). */
  readonly endpoints: {
    readonly secretsManager: InterfaceVpcEndpoint;
    readonly sqs: InterfaceVpcEndpoint;
    /** The operations function forwards its callers' signed GetCallerIdentity here. */
    readonly sts: InterfaceVpcEndpoint;
  };

  readonly host: string;
  readonly environment: FunctionEnvironment;
  readonly network: FunctionNetwork;
  readonly deployDependencies: readonly IConstruct[];
  readonly monitored: MonitoredDatabase;

  constructor(scope: Construct, id: string, props: RdsDatabaseProps) {
    const { sizing } = props;
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
    this.endpoints = {
      secretsManager: this.addEndpoint(
        'SecretsManager',
        InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        stack.formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ),
      sqs: this.addEndpoint(
        'Sqs',
        InterfaceVpcEndpointAwsService.SQS,
        stack.formatArn({ service: 'sqs', resource: '*' }),
      ),
      // The principal is the operator who signed the proof; GetCallerIdentity names no resource.
      sts: this.addEndpoint('Sts', InterfaceVpcEndpointAwsService.STS, '*', [
        'sts:GetCallerIdentity',
      ]),
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
    const engine = DatabaseInstanceEngine.postgres({ version: ENGINE_VERSION });
    this.parameters = new ParameterGroup(this, 'Parameters', {
      engine,
      parameters: { ...SERVER_PARAMETERS },
    });
    this.instance = new DatabaseInstance(this, 'Instance', {
      engine,
      instanceType: sizing.instanceType,
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
      multiAz: sizing.multiAz,
      // The function logs in as its own role with an IAM token (lambda/contract/roles.ts).
      iamAuthentication: true,
      storageType: StorageType.GP3,
      allocatedStorage: sizing.allocatedStorageGiB,
      maxAllocatedStorage: sizing.maxAllocatedStorageGiB,
      backupRetention: Duration.days(sizing.backupRetentionDays),
      deletionProtection: sizing.deletionProtection || props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      // The free tier (7 days): which statements wait on what, when the database is the bound.
      enablePerformanceInsights: true,
      performanceInsightRetention: PerformanceInsightRetention.DEFAULT,
      cloudwatchLogsExports: ['postgresql'],
      // Server logs can quote statements and rows (masked values, user ids): keep them a month.
      cloudwatchLogsRetention: RetentionDays.ONE_MONTH,
      parameterGroup: this.parameters,
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
    // Creating the schedule runs the rotation function's testSecret step (RotateSecret without
    // RotateImmediately), which reaches PostgreSQL and Secrets Manager: the network comes first.
    const schedule = this.node
      .findAll()
      .find((construct): construct is RotationSchedule => construct instanceof RotationSchedule);
    if (schedule === undefined) throw new Error('the rotation has no schedule');
    this.orderAfterNetwork(schedule, rotation, 'secretsManager');
    // The rotation function comes from a SAR application, under the name CDK gives it.
    const application = this.instance.node
      .findAll()
      .find((construct): construct is CfnApplication => construct instanceof CfnApplication);
    const functionName = (application?.parameters as Record<string, unknown> | undefined)
      ?.functionName;
    if (typeof functionName !== 'string') throw new Error('the rotation has no function name');
    retainLogsOf(stack, 'RotationLogRetention', functionName, RetentionDays.ONE_MONTH);
    // Secrets Manager reports a failed rotation as a CloudTrail service event (no trail needed),
    // naming the secret's ARN in additionalEventData.SecretId. Monitoring gives the rule its target.
    this.rotationFailed = new Rule(this, 'RotationFailed', {
      description: 'login-queue: a rotation of the master password secret failed',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS Service Event via CloudTrail'],
        detail: {
          eventName: ['RotationFailed'],
          additionalEventData: { SecretId: [secret.secretArn] },
        },
      },
    });
    this.sizing = sizing;
    this.monitored = { instance: this.instance, sizing, rotationFailed: this.rotationFailed };
    this.host = this.instance.dbInstanceEndpointAddress;
    this.environment = {
      [Env.DB_HOST]: this.instance.dbInstanceEndpointAddress,
      [Env.DB_PORT]: this.instance.dbInstanceEndpointPort,
      [Env.DB_NAME]: DATABASE_NAME,
      [Env.DB_USER]: DATABASE_USER,
      [Env.DB_SSL]: 'verify-full',
      // The runtime's CA bundle holds the RDS CAs; Node 20+ runtimes do not load it by default.
      [LibraryEnv.NODE_EXTRA_CA_CERTS]: '/var/runtime/ca-cert.pem',
    };
    // Inside the VPC each function's security group allows egress only where it is granted.
    this.network = {
      vpc: this.vpc,
      vpcSubnets: this.vpc.selectSubnets(),
      allowAllOutbound: false,
    };
    this.deployDependencies = [this];

    const acknowledge = (scope: Construct, id: string, reason: string) =>
      Validations.of(scope).acknowledge({ id, reason });
    if (!sizing.multiAz) {
      acknowledge(
        this.instance,
        'AwsSolutions::AwsSolutions-RDS3',
        'Single-AZ keeps the default cheap; production sets database.multiAz (-c dbMultiAz=true).',
      );
    }
    if (!sizing.deletionProtection && props.removalPolicy !== RemovalPolicy.RETAIN) {
      acknowledge(
        this.instance,
        'AwsSolutions::AwsSolutions-RDS10',
        'Off by default so a dev stack can be destroyed (a snapshot is kept); production sets database.deletionProtection (-c dbDeletionProtection=true).',
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

  /**
   * An interface endpoint of `service` in the isolated subnets (private DNS on), behind a
   * security group of its own that admits nobody until `connections.allowDefaultPortFrom`
   * grants a peer, with an endpoint policy allowing `actions` on `resource` to this account's
   * principals only. `from` names the peers in the group's description.
   */
  addEndpoint(
    name: string,
    service: InterfaceVpcEndpointAwsService,
    resource: string,
    actions = ['*'],
    from = 'the login-queue functions only',
  ): InterfaceVpcEndpoint {
    const created = this.vpc.addInterfaceEndpoint(name, {
      service,
      privateDnsEnabled: true,
      open: false,
      securityGroups: [
        new SecurityGroup(this, `${name}EndpointSecurityGroup`, {
          vpc: this.vpc,
          description: `${name} endpoint: HTTPS from ${from}`,
          allowAllOutbound: false,
        }),
      ],
    });
    created.addToPolicy(
      new PolicyStatement({
        sid: 'ThisAccountOnly',
        principals: [new AnyPrincipal()],
        actions,
        resources: [resource],
        conditions: { StringEquals: { 'aws:PrincipalAccount': Stack.of(this).account } },
      }),
    );
    return created;
  }

  /**
   * The master user logs in with the password in `secret`; every other login is the role's
   * own, with an IAM token (no password anywhere).
   */
  loginEnvironment(login: DatabaseLogin): FunctionEnvironment {
    return login === 'master'
      ? { [Env.DB_PASSWORD_SECRET_ID]: this.secret.secretArn }
      : { [Env.DB_AUTH]: 'iam', [Env.DB_USER]: login };
  }

  /** The master user: read the secret; a role: `rds-db:connect` as that database user. */
  grantLogin(grantee: IGrantable, login: DatabaseLogin): void {
    if (login === 'master') this.secret.grantRead(grantee);
    else this.instance.grantConnect(grantee, login);
  }

  /** PostgreSQL's port and the named endpoints' HTTPS, opened to `peer` alone. */
  allowConnectionsFrom(peer: IConnectable, ...endpoints: EndpointName[]): void {
    this.allowFrom(peer);
    this.allowEndpointsFrom(peer, ...endpoints);
  }

  /** Opens PostgreSQL's port to `peer` (and `peer`'s egress to it), and only to it. */
  allowFrom(peer: IConnectable): void {
    this.instance.connections.allowDefaultPortFrom(peer, 'login-queue function to PostgreSQL');
  }

  /** Opens HTTPS to the given interface endpoints to `peer` (and `peer`'s egress to them). */
  allowEndpointsFrom(peer: IConnectable, ...names: EndpointName[]): void {
    for (const name of names) {
      this.endpoints[name].connections.allowDefaultPortFrom(
        peer,
        `login-queue function to ${name}`,
      );
    }
  }

  /**
   * Orders `consumer` (deploy-time code run as `peer`) after what `peer`'s traffic needs: the
   * security groups at both ends, whose rules CDK keeps under them (a dependency on a group is
   * one on its rules), the database and the named endpoints.
   */
  orderAfterNetwork(consumer: IConstruct, peer: IConnectable, ...names: EndpointName[]): void {
    consumer.node.addDependency(
      ...peer.connections.securityGroups,
      ...this.instance.connections.securityGroups,
      // The DB instance itself, not its construct (which holds the secret and its rotation).
      this.instance.node.defaultChild as IConstruct,
      ...names.flatMap((name) => [
        this.endpoints[name],
        ...this.endpoints[name].connections.securityGroups,
      ]),
    );
  }
}
