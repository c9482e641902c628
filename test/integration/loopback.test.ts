/**
 * The local services listen on 127.0.0.1 only: the embedded SQS endpoint and the Secrets
 * Manager stand-in are unauthenticated and hold raw bodies and keys; PostgreSQL holds rows. Read from the kernel's
 * table of listening sockets, so no packet goes to another address to find out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalAws, startLocalAws } from '../../lambda/local/aws';
import { startLocalPostgres } from '../../lambda/local/postgres';

let aws: LocalAws | undefined;
afterEach(async () => {
  await aws?.stop();
  aws = undefined;
});

/** The addresses (IPv4 dotted, IPv6 as hex) listening on TCP `port`, per /proc/net/tcp{,6}. */
function listeningAddresses(port: number): string[] {
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || local === undefined) continue; // 0A: LISTEN
      const [hex = '', portHex = ''] = local.split(':');
      if (Number.parseInt(portHex, 16) !== port) continue;
      addresses.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .map((byte) => Number.parseInt(byte, 16))
              .reverse()
              .join('.')
          : hex,
      );
    }
  }
  return addresses;
}

describe('local services', () => {
  it.skipIf(!existsSync('/proc/net/tcp'))(
    'the embedded SQS endpoint and the Secrets Manager stand-in listen on 127.0.0.1 only',
    async () => {
      // Arrange / Act
      aws = await startLocalAws();
      // Assert
      for (const endpoint of [aws.sqsEndpoint, aws.secretsManager.endpoint]) {
        expect(listeningAddresses(Number(new URL(endpoint).port))).toEqual(['127.0.0.1']);
      }
    },
  );

  it.skipIf(!existsSync('/proc/net/tcp'))(
    'the embedded PostgreSQL listens on 127.0.0.1 only',
    async () => {
      // Arrange / Act
      const postgres = await startLocalPostgres();
      // Assert
      try {
        expect(listeningAddresses(postgres.port)).toEqual(['127.0.0.1']);
      } finally {
        await postgres.stop();
      }
    },
  );
});
