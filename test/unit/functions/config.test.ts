import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambda/core/errors';
import {
  loadConfig,
  loadOperationsConfig,
  loadSecretInitConfig,
  loadTelemetryConfig,
} from '../../../lambda/functions/config';

const base = { DATABASE_URL: 'postgres://localhost/test', MASKING_SECRET_ID: 'mask' };

describe('loadConfig', () => {
  it('reads a local configuration with defaults', () => {
    expect(loadConfig(base)).toEqual({
      database: { kind: 'url', url: 'postgres://localhost/test' },
      queryTimeoutMs: 10_000,
      maskingSecretId: 'mask',
      keyTtlMs: 300_000,
      deadLetterQueueUrl: undefined,
      recoveryPublicKey: undefined,
      sourceQueueUrl: undefined,
      backoff: { baseSeconds: 30, maxSeconds: 300 },
    });
  });

  it('reads the source queue URL and the backoff, within what SQS accepts', () => {
    const config = loadConfig({
      ...base,
      SOURCE_QUEUE_URL: 'http://local/q',
      BACKOFF_BASE_SECONDS: '1',
      BACKOFF_MAX_SECONDS: '30',
    });
    expect([config.sourceQueueUrl, config.backoff]).toEqual([
      'http://local/q',
      { baseSeconds: 1, maxSeconds: 30 },
    ]);
    expect(() => loadConfig({ ...base, BACKOFF_MAX_SECONDS: '43201' })).toThrow(
      'BACKOFF_MAX_SECONDS must be an integer in [1, 43200], got "43201"',
    );
  });

  it('reads an AWS configuration whose password lives in a secret', () => {
    const config = loadConfig({
      MASKING_SECRET_ID: 'mask',
      DB_HOST: 'db.example',
      DB_NAME: 'logins',
      DB_USER: 'app',
      DB_PASSWORD_SECRET_ID: 'arn:db',
      DLQ_URL: 'https://sqs/dlq',
      MASKING_KEY_TTL_SECONDS: '60',
    });
    expect(config.database).toEqual({
      kind: 'secret',
      host: 'db.example',
      port: 5432,
      database: 'logins',
      user: 'app',
      passwordSecretId: 'arn:db',
      ssl: 'verify-full',
    });
    expect([config.keyTtlMs, config.deadLetterQueueUrl]).toEqual([60_000, 'https://sqs/dlq']);
  });

  it('reads IAM database authentication, which needs no password secret', () => {
    const config = loadConfig({
      MASKING_SECRET_ID: 'mask',
      DB_AUTH: 'iam',
      DB_HOST: 'db.example',
      DB_PORT: '5433',
      DB_NAME: 'logins',
      DB_USER: 'login_queue_writer',
      AWS_REGION: 'eu-west-1',
    });
    expect(config.database).toEqual({
      kind: 'iam',
      host: 'db.example',
      port: 5433,
      database: 'logins',
      user: 'login_queue_writer',
      region: 'eu-west-1',
      ssl: 'verify-full',
    });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig(base))).toBe(true);
  });

  it.each([
    [{ DATABASE_URL: 'x' }, 'MASKING_SECRET_ID is required'],
    [{ MASKING_SECRET_ID: 'm' }, 'set DATABASE_URL, or DB_HOST'],
    [
      { MASKING_SECRET_ID: 'm', DB_HOST: 'h', DB_NAME: 'n', DB_USER: 'u' },
      'DB_PASSWORD_SECRET_ID is required',
    ],
    [
      { ...base, MASKING_KEY_TTL_SECONDS: 'soon' },
      'MASKING_KEY_TTL_SECONDS must be an integer in [0, 86400], got "soon"',
    ],
    [{ ...base, DB_QUERY_TIMEOUT_MS: '5' }, 'DB_QUERY_TIMEOUT_MS must be an integer'],
    [
      {
        MASKING_SECRET_ID: 'm',
        DB_HOST: 'h',
        DB_NAME: 'n',
        DB_USER: 'u',
        DB_PASSWORD_SECRET_ID: 's',
        DB_SSL: 'off',
      },
      'DB_SSL must be',
    ],
    [
      { MASKING_SECRET_ID: 'm', DB_HOST: 'h', DB_NAME: 'n', DB_USER: 'u', DB_AUTH: 'token' },
      'DB_AUTH must be iam or password, got "token"',
    ],
    [
      { MASKING_SECRET_ID: 'm', DB_HOST: 'h', DB_NAME: 'n', DB_USER: 'u', DB_AUTH: 'iam' },
      'AWS_REGION is required',
    ],
    [
      {
        MASKING_SECRET_ID: 'm',
        DB_HOST: 'h',
        DB_NAME: 'n',
        DB_USER: 'u',
        DB_AUTH: 'iam',
        AWS_REGION: 'us-east-1',
        DB_SSL: 'disable',
      },
      'DB_AUTH=iam needs DB_SSL other than disable',
    ],
  ])('fails fast naming the variable: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('loadTelemetryConfig', () => {
  it("takes Powertools' standard variables, with the project's names when unset", () => {
    expect(loadTelemetryConfig({})).toEqual({
      serviceName: 'login-queue',
      namespace: 'LoginQueue',
    });
    expect(
      loadTelemetryConfig({
        POWERTOOLS_SERVICE_NAME: 'logins-eu',
        POWERTOOLS_METRICS_NAMESPACE: 'Logins',
      }),
    ).toEqual({ serviceName: 'logins-eu', namespace: 'Logins' });
  });
});

describe('loadSecretInitConfig', () => {
  it('needs the masking secret id', () => {
    expect(loadSecretInitConfig({ MASKING_SECRET_ID: 'arn:mask' })).toEqual({
      maskingSecretId: 'arn:mask',
    });
    expect(() => loadSecretInitConfig({})).toThrow('MASKING_SECRET_ID is required');
  });
});

describe('loadOperationsConfig', () => {
  const ops = {
    ...base,
    RECOVERY_SECRET_ID: 'recovery',
    DLQ_URL: 'http://local/dlq',
    SOURCE_QUEUE_URL: 'http://local/q',
    OPERATOR_ROLE_ARN: 'arn:aws:iam::123456789012:role/RecoveryOperatorRole',
    AWS_REGION: 'eu-west-1',
  };

  it("asks STS at the region's endpoint, and accepts sessions of the operator role", () => {
    const config = loadOperationsConfig(ops);
    expect(config.stsEndpoint.href).toBe('https://sts.eu-west-1.amazonaws.com/');
    expect(config.operatorRoleArn).toBe(ops.OPERATOR_ROLE_ARN);
  });

  it('takes STS from AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, as the SDK does', () => {
    const sts = 'http://127.0.0.1:4599';
    const local = 'http://localhost.localstack.cloud:4566';
    expect(
      loadOperationsConfig({ ...ops, AWS_ENDPOINT_URL_STS: sts, AWS_ENDPOINT_URL: local })
        .stsEndpoint.origin,
    ).toBe(sts);
    expect(loadOperationsConfig({ ...ops, AWS_ENDPOINT_URL: local }).stsEndpoint.origin).toBe(
      local,
    );
  });

  it.each([
    ['no OPERATOR_ROLE_ARN', { OPERATOR_ROLE_ARN: '' }, /OPERATOR_ROLE_ARN is required/],
    [
      'a user as OPERATOR_ROLE_ARN',
      { OPERATOR_ROLE_ARN: 'arn:aws:iam::123456789012:user/alice' },
      /OPERATOR_ROLE_ARN must be an IAM role ARN/,
    ],
    [
      'an STS endpoint that is not a URL',
      { AWS_ENDPOINT_URL_STS: 'sts.local' },
      /AWS_ENDPOINT_URL_STS \(or AWS_ENDPOINT_URL\) must be an http\(s\) URL, got "sts.local"/,
    ],
    ['no region and no STS endpoint', { AWS_REGION: '' }, /AWS_REGION is required/],
  ])('refuses %s with a ConfigError naming the variable', (_, change, message) => {
    expect(() => loadOperationsConfig({ ...ops, ...change })).toThrow(ConfigError);
    expect(() => loadOperationsConfig({ ...ops, ...change })).toThrow(message);
  });
});
