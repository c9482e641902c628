/**
 * `npm run recovery:keygen -- [--key-id r1] [--out recovery-secret.json]`: a new recovery key
 * pair. The private ring goes to a file readable by you only (put it in the recovery secret,
 * then delete the file); the public key is printed for the function (RECOVERY_PUBLIC_KEY).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runCommand } from '../command';
import { KEY_ID } from '../key-ring';
import { generateRecoveryKeyPair } from '../recovery';

runCommand('recovery:keygen', async () => {
  const { values } = parseArgs({
    options: {
      'key-id': { type: 'string', default: 'r1' },
      out: { type: 'string', default: 'recovery-secret.json' },
    },
  });
  const id = values['key-id'] ?? 'r1';
  if (!KEY_ID.test(id)) throw new Error(`--key-id must match ${KEY_ID}`);
  const { secret, publicKey } = generateRecoveryKeyPair(id);
  writeFileSync(values.out ?? 'recovery-secret.json', `${secret}\n`, { mode: 0o600, flag: 'wx' });
  process.stdout.write(
    `private key ring written to ${values.out} (mode 600)\nRECOVERY_PUBLIC_KEY=${publicKey}\n`,
  );
  return 0;
});
