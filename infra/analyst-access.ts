/**
 * The analysts' private path to the database (opt-in, AWS target): Session Manager port
 * forwarding (the stack's own AnalystTunnelDocument, whose host and port are fixed to the
 * analysts' database) through the smallest managed instance,
 * in the isolated subnets, with no inbound rule and no way out but PostgreSQL and the two
 * Session Manager endpoints; and the AnalystRole, which may open that tunnel and sign in as
 * login_queue_analyst with an IAM token, and nothing else.
 *
 * Session Manager logs no content of a port-forwarding session ("Logging isn't available for
 * Session Manager sessions that connect through port forwarding or SSH", Session Manager user
 * guide, "Logging session activity"). What is recorded instead: CloudTrail's StartSession and
 * TerminateSession (who, which instance, which document, which host and port), and the
 * server's own sign-in log (log_connections, log_disconnections: which role, when, how long).
 */
import { CfnOutput, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  AmazonLinuxCpuType,
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  Instance,
  InstanceClass,
  InstanceSize,
  InstanceType,
  InterfaceVpcEndpointAwsService,
  MachineImage,
  SecurityGroup,
  SubnetType,
} from 'aws-cdk-lib/aws-ec2';
import {
  AccountRootPrincipal,
  ArnPrincipal,
  CompositePrincipal,
  type IPrincipal,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IDatabaseInstance } from 'aws-cdk-lib/aws-rds';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { ANALYST_ROLE } from '../lambda/contract/roles';
import { type RdsDatabase, SIGN_IN_LOG_PARAMETERS } from './rds-database';

export interface AnalystAccessProps {
  /** The network the instance joins, and the primary instance. */
  readonly database: RdsDatabase;
  /** The analysts' read replica. @default none: the path reaches the primary */
  readonly replica?: IDatabaseInstance;
  /** IAM principals (ARNs) that may assume the AnalystRole. @default the account */
  readonly analysts?: readonly string[];
}

/**
 * Creates, in `scope` (the stack), the Session Manager endpoints (in the database's network),
 * the AnalystAccessInstance with its role and security group, the AnalystTunnelDocument, the
 * AnalystRole, and the outputs an analyst needs: AnalystAccessInstanceId, AnalystRoleArn,
 * AnalystSessionDocument, AnalystDatabaseEndpoint.
 */
export class AnalystAccess {
  readonly instance: Instance;
  readonly role: Role;
  /** The only session document the AnalystRole may start: a tunnel to the database, no shell. */
  readonly document: CfnDocument;
  /** The database the path reaches: the replica if there is one, else the primary. */
  readonly target: IDatabaseInstance;

  constructor(scope: Construct, props: AnalystAccessProps) {
    const { database } = props;
    const stack = Stack.of(scope);
    this.target = props.replica ?? database.instance;
    // Without a replica the analysts sign in to the primary: its server logs their sign-ins
    // (the replica's parameter group logs them already).
    if (props.replica === undefined) {
      for (const [name, value] of Object.entries(SIGN_IN_LOG_PARAMETERS)) {
        database.parameters.addParameter(name, value);
      }
    }

    // What the SSM Agent calls (Session Manager user guide, "Use AWS PrivateLink to set up a VPC
    // endpoint for Session Manager"): ssm to register, ssmmessages for the session channels.
    // ec2messages only carries Run Command, which agents since 3.3.40.0 take over ssmmessages
    // too; Amazon Linux 2023 ships a later agent.
    const from = 'the analyst access instance only';
    const endpoints = [
      database.addEndpoint('Ssm', InterfaceVpcEndpointAwsService.SSM, '*', ['*'], from),
      database.addEndpoint(
        'SsmMessages',
        InterfaceVpcEndpointAwsService.SSM_MESSAGES,
        '*',
        ['*'],
        from,
      ),
    ];

    const group = new SecurityGroup(scope, 'AnalystAccessSecurityGroup', {
      vpc: database.vpc,
      description:
        'login-queue analyst access: no inbound; out to PostgreSQL of the analysts database and the Session Manager endpoints only',
      allowAllOutbound: false,
    });
    this.target.connections.allowDefaultPortFrom(group, 'analyst access instance to PostgreSQL');
    for (const endpoint of endpoints) {
      endpoint.connections.allowDefaultPortFrom(
        group,
        'analyst access instance to Session Manager',
      );
    }

    // The minimal Session Manager instance permissions (Session Manager user guide, "Create a
    // custom IAM role for Session Manager"), without the S3 and KMS ones of session logs.
    const instanceRole = new Role(scope, 'AnalystAccessInstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description:
        'login-queue analyst access instance: the SSM Agent registers and opens Session Manager channels, nothing else',
    });
    instanceRole.addToPolicy(
      new PolicyStatement({
        actions: [
          'ssm:UpdateInstanceInformation',
          'ssmmessages:CreateControlChannel',
          'ssmmessages:CreateDataChannel',
          'ssmmessages:OpenControlChannel',
          'ssmmessages:OpenDataChannel',
        ],
        resources: ['*'],
      }),
    );
    this.instance = new Instance(scope, 'AnalystAccessInstance', {
      vpc: database.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      // The smallest Graviton instance: it only relays bytes between two sockets.
      instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.NANO),
      // The SSM Agent comes preinstalled; a newer image replaces the instance on deploy.
      machineImage: MachineImage.latestAmazonLinux2023({ cpuType: AmazonLinuxCpuType.ARM_64 }),
      securityGroup: group,
      role: instanceRole,
      requireImdsv2: true,
      associatePublicIpAddress: false,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: BlockDeviceVolume.ebs(8, {
            encrypted: true,
            volumeType: EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    // The agent registers at boot: the endpoints and the rules to them come first.
    this.instance.node.addDependency(
      group,
      ...endpoints.flatMap((endpoint) => [endpoint, ...endpoint.connections.securityGroups]),
    );

    // AWS-StartPortForwardingSessionToRemoteHost takes any host= and port: through it an
    // analyst could reach the instance metadata service (169.254.169.254:80, which the security
    // group cannot block) and read the instance role's credentials. This document fixes the
    // host and port to the analysts' database; the caller chooses only the local port
    // (Session Manager user guide, "Session document schema").
    this.document = new CfnDocument(scope, 'AnalystTunnelDocument', {
      documentType: 'Session',
      content: {
        schemaVersion: '1.0',
        description:
          'login-queue analyst access: forward a local port to PostgreSQL of the analysts database, nothing else',
        sessionType: 'Port',
        parameters: {
          localPortNumber: {
            type: 'String',
            description: 'The port to listen on, on the analyst machine.',
            allowedPattern:
              '^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
            default: '15432',
          },
        },
        properties: {
          type: 'LocalPortForwarding',
          host: this.target.dbInstanceEndpointAddress,
          portNumber: this.target.dbInstanceEndpointPort,
          localPortNumber: '{{ localPortNumber }}',
        },
      },
    });

    this.role = new Role(scope, 'AnalystRole', {
      assumedBy: principals(props.analysts),
      description:
        'login-queue analysts: port forwarding through the analyst access instance, and sign-in as login_queue_analyst',
      maxSessionDuration: Duration.hours(1),
    });
    const instanceArn = stack.formatArn({
      service: 'ec2',
      resource: 'instance',
      resourceName: this.instance.instanceId,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'PortForwardingToTheAccessInstanceOnly',
        actions: ['ssm:StartSession'],
        // The stack's document only: no AWS-owned one, whose host and port the caller picks.
        resources: [
          instanceArn,
          stack.formatArn({
            service: 'ssm',
            resource: 'document',
            resourceName: this.document.ref,
          }),
        ],
        // A start-session that names no document asks for a shell (SSM-SessionManagerRunShell):
        // with this key Session Manager checks that document against the policy too, and refuses.
        conditions: { BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' } },
      }),
    );
    const sessions = stack.formatArn({ service: 'ssm', resource: 'session', resourceName: '*' });
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'OwnSessionsOnly',
        actions: ['ssm:TerminateSession', 'ssm:ResumeSession'],
        resources: [sessions],
        // A role session's sessions carry its user id (Session Manager user guide, "Allow a
        // user to end only sessions they started").
        conditions: {
          StringLike: { 'ssm:resourceTag/aws:ssmmessages:session-id': [USER_ID] },
        },
      }),
    );
    this.target.grantConnect(this.role, ANALYST_ROLE);

    Validations.of(instanceRole).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'The SSM Agent calls: ssmmessages actions name no resource, and UpdateInstanceInformation runs before the instance knows its own ARN.',
    });
    // cdk-nag names the resource as synthesised: concrete with an environment, else its tokens.
    const named = [stack.partition, stack.region, stack.account].some((part) =>
      Token.isUnresolved(part),
    )
      ? 'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:session/*'
      : sessions;
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${named}]`,
      reason:
        'Session ids are made at start; the condition limits Terminate/ResumeSession to sessions whose id tag is the caller own user id.',
    });
    const acknowledge = (id: string, reason: string) =>
      Validations.of(this.instance).acknowledge({ id: `AwsSolutions::${id}`, reason });
    acknowledge(
      'AwsSolutions-EC28',
      'Detailed monitoring adds cost and nothing to watch: the instance only relays Session Manager tunnels.',
    );
    acknowledge(
      'AwsSolutions-EC29',
      'Holds no state: CloudFormation replaces it on a new image, which termination protection would block.',
    );

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(scope, id, { value, description });
    output(
      'AnalystAccessInstanceId',
      this.instance.instanceId,
      'The --target of aws ssm start-session',
    );
    output('AnalystRoleArn', this.role.roleArn, 'The role analysts assume');
    output(
      'AnalystSessionDocument',
      this.document.ref,
      'The --document-name of aws ssm start-session',
    );
    output(
      'AnalystDatabaseEndpoint',
      this.target.dbInstanceEndpointAddress,
      'The host the session document forwards to, and --host of npm run db:connect',
    );
  }
}

// An IAM policy variable, resolved by IAM at request time.
const USER_ID = ['$', '{aws:userid}'].join('');

/** The given ARNs, or the account. */
function principals(arns: readonly string[] | undefined): IPrincipal {
  return arns && arns.length > 0
    ? new CompositePrincipal(...arns.map((arn) => new ArnPrincipal(arn)))
    : new AccountRootPrincipal();
}
