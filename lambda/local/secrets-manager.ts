/**
 * A local stand-in for AWS Secrets Manager's GetSecretValue, over its real JSON protocol, so
 * the Lambda bundle runs unchanged with AWS_ENDPOINT_URL_SECRETS_MANAGER pointing here.
 * No emulator for Secrets Manager exists on npm; this serves only what the pipeline calls.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalSecretsManager {
  /** e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly port: number;
  /** Creates or replaces a secret; returns its ARN. */
  put(name: string, secretString: string): string;
  /** How many times GetSecretValue returned the secret `name`. */
  reads(name: string): number;
  stop(): Promise<void>;
}

const arnOf = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;

/** Starts the stand-in on 127.0.0.1 (port 0 = any free port). */
export async function startLocalSecretsManager(port = 0): Promise<LocalSecretsManager> {
  const secrets = new Map<string, { value: string; version: string }>();
  const reads = new Map<string, number>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = (status: number, body: object) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      const target = request.headers['x-amz-target'];
      if (target !== 'secretsmanager.GetSecretValue') {
        return reply(400, {
          __type: 'UnsupportedOperation',
          message: `${target} is not supported`,
        });
      }
      let secretId = '';
      try {
        secretId = String(JSON.parse(Buffer.concat(chunks).toString('utf8')).SecretId ?? '');
      } catch {
        return reply(400, { __type: 'InvalidRequestException', message: 'body is not JSON' });
      }
      const name = secretId.startsWith(arnOf('')) ? secretId.slice(arnOf('').length) : secretId;
      const secret = secrets.get(name);
      if (secret === undefined) {
        return reply(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
      }
      reads.set(name, (reads.get(name) ?? 0) + 1);
      return reply(200, {
        ARN: arnOf(name),
        Name: name,
        SecretString: secret.value,
        VersionId: secret.version,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    port: bound,
    put(name, secretString) {
      secrets.set(name, { value: secretString, version: randomUUID() });
      return arnOf(name);
    },
    reads: (name) => reads.get(name) ?? 0,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
