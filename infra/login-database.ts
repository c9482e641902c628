/**
 * What the functions need of the database they write to, whichever it is: one interface with
 * two implementations, `RdsDatabase` (rds-database.ts), the AWS target's private network and
 * RDS PostgreSQL, and `ExternalDatabase` (external-database.ts), an existing PostgreSQL for
 * LocalStack. The stack and the function constructs see only this interface.
 */
import type { IConnectable } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { FunctionOptions } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import type { FunctionEnvironment } from '../lambda/contract/env';
import type { OPERATOR_ROLE, WRITER_ROLE } from '../lambda/contract/roles';
import type { MonitoredDatabase } from './monitoring';

/** The interface endpoints of the AWS APIs the functions call (RDS target; no NAT). */
export type EndpointName = 'secretsManager' | 'sqs' | 'sts';

/** Who a function logs in as: the master user (the migration's) or a role of the contract. */
export type DatabaseLogin = 'master' | typeof WRITER_ROLE | typeof OPERATOR_ROLE;

/** Where a function that connects is placed: spread into its props. */
export type FunctionNetwork = Pick<FunctionOptions, 'vpc' | 'vpcSubnets' | 'allowAllOutbound'>;

/** What the functions need of the database, whichever it is. */
export interface LoginDatabase {
  /** The master user's password (the migration logs in with it). */
  readonly secret: ISecret;
  /** The server's host name, as the stack's DatabaseEndpoint output shows it. */
  readonly host: string;
  /** Where PostgreSQL listens, the database and master user, and how TLS is checked. */
  readonly environment: FunctionEnvironment;
  /** The network of every function that connects (none outside a VPC). */
  readonly network: FunctionNetwork;
  /** What the deploy-time migration waits for. */
  readonly deployDependencies: readonly IConstruct[];
  /** What the alarms watch. @default none (a database this stack does not run) */
  readonly monitored?: MonitoredDatabase;
  /** The environment that says how a function logs in as `login`. */
  loginEnvironment(login: DatabaseLogin): FunctionEnvironment;
  /** Grants `grantee` what logging in as `login` takes. */
  grantLogin(grantee: IGrantable, login: DatabaseLogin): void;
  /** Lets `peer` reach PostgreSQL and the named interface endpoints, and nothing else. */
  allowConnectionsFrom(peer: IConnectable, ...endpoints: EndpointName[]): void;
  /** Orders `consumer` (deploy-time code run as `peer`) after what `peer`'s traffic needs. */
  orderAfterNetwork(consumer: IConstruct, peer: IConnectable, ...endpoints: EndpointName[]): void;
}
