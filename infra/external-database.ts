/**
 * An existing PostgreSQL outside the stack, for the LocalStack target (RDS is a paid LocalStack
 * feature): its password in a secret of the stack, no network of its own, nothing to watch.
 */
import { SecretValue, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct, IConstruct } from 'constructs';
import { Env, type FunctionEnvironment } from '../lambda/contract/env';
import type { FunctionNetwork, LoginDatabase } from './login-database';

/** Where the existing PostgreSQL is and whom to log in as. */
export interface ExternalDatabaseSettings {
  readonly host: string;
  /** @default 5432 */
  readonly port?: number;
  readonly name: string;
  readonly user: string;
  /** Stored in a Secrets Manager secret of the stack: for local development only. */
  readonly password: string;
}

/**
 * The given PostgreSQL, which every function logs in to as the given user with the given
 * password. Creates the secret in `scope` (the stack) under the id DatabaseCredentials.
 */
export class ExternalDatabase implements LoginDatabase {
  readonly secret: Secret;
  readonly host: string;
  readonly environment: FunctionEnvironment;
  readonly network: FunctionNetwork = {};
  readonly deployDependencies: readonly IConstruct[] = [];

  constructor(scope: Construct, settings: ExternalDatabaseSettings) {
    this.secret = new Secret(scope, 'DatabaseCredentials', {
      description: 'login-queue PostgreSQL password (LocalStack target, development only)',
      secretStringValue: SecretValue.unsafePlainText(
        JSON.stringify({ password: settings.password }),
      ),
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason: 'LocalStack target: the password of a local development PostgreSQL.',
    });
    this.host = settings.host;
    this.environment = {
      [Env.DB_HOST]: settings.host,
      [Env.DB_PORT]: String(settings.port ?? 5432),
      [Env.DB_NAME]: settings.name,
      [Env.DB_USER]: settings.user,
      [Env.DB_SSL]: 'disable',
    };
  }

  /** One user for every function: the password from the secret. */
  loginEnvironment(): FunctionEnvironment {
    return { [Env.DB_PASSWORD_SECRET_ID]: this.secret.secretArn };
  }

  grantLogin(grantee: IGrantable): void {
    this.secret.grantRead(grantee);
  }

  /** Outside any VPC: nothing to open. */
  allowConnectionsFrom(): void {}

  /** Outside any VPC: nothing to wait for. */
  orderAfterNetwork(): void {}
}
