/**
 * `npm run recovery:keygen -- [--key-id r1] [--out recovery-secret.json]`: a new recovery key
 * pair. The private ring goes to a file readable by you only (put it in the recovery secret,
 * then delete the file); the public key is printed for the function (RECOVERY_PUBLIC_KEY).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { UsageError } from '../core/errors';
import { KEY_ID } from '../core/key-ring';
import { generateRecoveryKeyPair } from '../core/recovery';
import { parseCommandLine, runCommand } from './command';

const HELP = `Usage: npm run recovery:keygen -- [options]

Generates a recovery key pair: the private key ring goes to a new file (mode 600) for the
recovery secret; RECOVERY_PUBLIC_KEY is printed for the function.

  --key-id ID    the key id, [A-Za-z0-9_-]{1,32} (default r1)
  --out FILE     where the private key ring goes; must not exist (default recovery-secret.json)
  -h, --help     this text
`;

runCommand('recovery:keygen', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      'key-id': { type: 'string', default: 'r1' },
      out: { type: 'string', default: 'recovery-secret.json' },
    },
  });
  if (args === undefined) return 0;
  const id = args.values['key-id'] ?? 'r1';
  const out = args.values.out ?? 'recovery-secret.json';
  if (!KEY_ID.test(id)) throw new UsageError(`--key-id must match ${KEY_ID}, got "${id}"`);
  if (existsSync(out)) throw new UsageError(`${out} exists; keys are never overwritten`);
  const { secret, publicKey } = generateRecoveryKeyPair(id);
  writeFileSync(out, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  process.stdout.write(
    `private key ring written to ${out} (mode 600)\nRECOVERY_PUBLIC_KEY=${publicKey}\n`,
  );
  return 0;
});
