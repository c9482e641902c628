/**
 * The README's commands: every command line in its `sh` blocks is either run by a named test
 * or listed here with the reason it cannot run on this machine; every npm script it names
 * exists, and those that run one of our commands answer --help.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandScripts, ROOT, runScript } from '../helpers/cli';

const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Command lines of the README's sh blocks: continuations joined, comments and blanks dropped. */
function readmeCommands(): string[] {
  const lines: string[] = [];
  for (const [, body = ''] of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of body.replaceAll('\\\n', ' ').split('\n')) {
      const line = raw
        .replace(/\s+#.*$/, '')
        .replace(/\s+/g, ' ')
        .trim();
      if (line !== '') lines.push(line);
    }
  }
  return [...new Set(lines)];
}

/** README command -> the test that runs it: [file under test/, test name]. */
const EXERCISED: Record<string, readonly [string, string]> = {
  'npm ci': [
    'integration/readme.test.ts',
    'starts with npm ci, which needs package-lock.json to match package.json',
  ],
  'npm start': [
    'integration/cli.test.ts',
    'prints an environment with which every operator command works as printed',
  ],
  'npm start -- --sqs-endpoint http://localhost:4566 --database-url postgres://postgres:postgres@localhost:5432/postgres':
    [
      'integration/cli.test.ts',
      'runs the README command as written: queue found by name, keys kept in login-queue-keys.json and reused',
    ],
  'npm run invoke -- --event lambda/local/events/mixed-batch.json [--env-vars env.json]': [
    'integration/local-run.test.ts',
    'prints an SQSBatchResponse naming the invalid records of the mixed example, with no SDK or pool noise',
  ],
  // The suite this file is part of.
  'npm test': ['integration/readme.test.ts', 'names only npm scripts that exist'],
  'npm run recovery:keygen -- --key-id r1': [
    'integration/cli.test.ts',
    'recovery:keygen writes the private ring mode 600 and prints the public key the function takes',
  ],
  'npm run unmask -- \'k1:Jnv7WwqJnIv9…\' --reason "fraud case 42" --function-url <OpsFunctionUrl>':
    [
      'integration/operations.test.ts',
      'unmask runs in the function, signed with SigV4 for lambda, and the audit names the caller STS verified',
    ],
  'npm run forget -- --user-id <user_id> --reason "erasure request 2026-17" --function-url <OpsFunctionUrl>':
    [
      'integration/operations.test.ts',
      'forget runs in the function and prints its audit record, never the user id',
    ],
  'npm run forget -- --user-id <user_id> --reason "erasure request 2026-17" --delete-dead-letters --dlq-url <DeadLetterQueueUrl>':
    [
      'integration/forget.test.ts',
      "with --delete-dead-letters deletes exactly the user's own, never a body that merely holds the id",
    ],
  'npm run dlq -- --peek --function-url <OpsFunctionUrl>': [
    'integration/operations.test.ts',
    'rekey, dlq --peek and redrive run in the function, with the URL from the flag or OPS_FUNCTION_URL',
  ],
  'npm run redrive -- --function-url <OpsFunctionUrl>': [
    'integration/operations.test.ts',
    'rekey, dlq --peek and redrive run in the function, with the URL from the flag or OPS_FUNCTION_URL',
  ],
  'npm run dlq -- --peek --dlq-url <DeadLetterQueueUrl>': [
    'integration/cli.test.ts',
    'prints an environment with which every operator command works as printed',
  ],
  'npm run redrive -- --dlq-url <DeadLetterQueueUrl> --queue-url <QueueUrl> [--masking-secret-id <MaskingSecretArn>]':
    [
      'integration/cli.test.ts',
      'prints an environment with which every operator command works as printed',
    ],
  'npm run maintain -- --database-url "$DATABASE_URL" --retention-days 400 --dry-run': [
    'integration/maintain.test.ts',
    'with --dry-run prints what it would drop, create and move, and changes nothing; the run then does exactly that',
  ],
  'npm start -- --keep --messages 0': [
    'integration/send.test.ts',
    "takes the take-home's messages from npm run send, and npm start drains them: 99 rows, 1 dead-lettered",
  ],
  'npm run send -- messages.jsonl': [
    'integration/send.test.ts',
    "takes the take-home's messages from npm run send, and npm start drains them: 99 rows, 1 dead-lettered",
  ],
  'npm run forget -- --user-id <user_id> --reason "erasure request 2026-17" --delete-dead-letters --dry-run --dlq-url <DeadLetterQueueUrl>':
    [
      'integration/forget.test.ts',
      'prints the rows by partition and the dead letters it would delete, changes nothing, and the run then does just that',
    ],
  'npm run redrive -- --dry-run --function-url <OpsFunctionUrl>': [
    'integration/operations.test.ts',
    'rekey, redrive and forget --dry-run run in the function, change nothing, and the runs then do what they said',
  ],
  'npm run redrive -- --dry-run --dlq-url <DeadLetterQueueUrl> --queue-url <QueueUrl>': [
    'integration/cli.test.ts',
    'prints an environment with which every operator command works as printed',
  ],
  'npm run maintain -- --database-url "$DATABASE_URL" --retention-days 400': [
    'integration/maintain.test.ts',
    'runs the README command: npm run maintain with a database URL and a retention prints its JSON report',
  ],
  'npx cdk synth -q -c target=localstack': ['infra/stack.test.ts', 'LocalStack target'],
};

/** README commands no test here can run, and why. */
const NOT_RUN_HERE: Record<string, string> = {
  'sam local invoke -t cdk.out/LoginQueueLocal.template.json --event lambda/local/events/valid-batch.json --env-vars lambda/local/events/env.example.json <HandlerLogicalId>':
    'needs the SAM CLI and Docker',
  'aws secretsmanager put-secret-value --secret-id <RecoveryKeySecretArn> --secret-string file://recovery-secret.json':
    'needs an AWS account',
  'rm recovery-secret.json': 'a shell builtin step',
  'npx cdk deploy -c recoveryPublicKey=r1:<printed key>': 'needs an AWS account',
  'npx cdk bootstrap': 'needs an AWS account',
  'npx cdk deploy -c alarmEmail=ops@example.com': 'needs an AWS account',
  'npx cdk deploy -c alarmEmail=oncall@example.com -c dbInstanceType=m7g.large -c dbMultiAz=true -c dbDeletionProtection=true -c dbStorageGiB=100 -c dbMaxStorageGiB=1000 -c dbBackupDays=14 -c maxConcurrency=50 -c recoveryOperators=arn:aws:iam::123456789012:role/incident-response':
    'needs an AWS account (infra/props.test.ts synthesises its context: "the README\'s production settings")',
  'aws sqs send-message --queue-url <QueueUrl> --message-body \'{"user_id":"u1","app_version":"2.3.0","device_type":"android","ip":"198.51.100.7","locale":"en_US","device_id":"d-1"}\'':
    'needs an AWS account',
  'aws logs tail /aws/lambda/<HandlerName> --since 5m': 'needs an AWS account',
  'npm run localstack:up': 'needs Docker and a LocalStack token',
  'npm run localstack:deploy': 'needs Docker and a LocalStack token',
  'npm run localstack:send': 'needs Docker and a LocalStack token',
  'npm run localstack:down': 'needs Docker and a LocalStack token',
};

/** npm scripts a command line runs: `npm start`, `npm test`, `npm run <name>`. */
function scriptOf(command: string): string | undefined {
  const match = /^npm (?:run )?([\w:-]+)/.exec(command);
  const name = match?.[1];
  return name === undefined || name === 'ci' ? undefined : name;
}

describe('the README', () => {
  const commands = readmeCommands();

  it('shows commands in its sh blocks', () => {
    expect(commands.length).toBeGreaterThan(10);
  });

  it('shows no command that is neither run by a test nor listed with the reason it cannot be', () => {
    const unaccounted = commands.filter((c) => !(c in EXERCISED) && !(c in NOT_RUN_HERE));
    expect(unaccounted).toEqual([]);
    const stale = [...Object.keys(EXERCISED), ...Object.keys(NOT_RUN_HERE)].filter(
      (c) => !commands.includes(c),
    );
    expect(stale).toEqual([]);
  });

  it.each(Object.entries(EXERCISED))('%s is run by the test it names', (_, [file, name]) => {
    const source = readFileSync(`${ROOT}test/${file}`, 'utf8');
    expect(source).toContain(name);
  });

  it('names only npm scripts that exist', () => {
    const named = commands.map(scriptOf).filter((s) => s !== undefined);
    expect(named).toEqual(expect.arrayContaining(['start', 'test', 'invoke', 'unmask']));
    for (const script of named) expect(pkg.scripts, script).toHaveProperty([script]);
  });

  it('names npm scripts whose --help works', async () => {
    const ours = commandScripts();
    const named = [...new Set(commands.map(scriptOf))].filter((s) => s !== undefined && s in ours);
    expect(named.length).toBeGreaterThanOrEqual(5);
    for (const script of named as string[]) {
      const result = await runScript(script, ['--help']);
      expect(result.code, `${script}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/^Usage: npm /);
    }
  });

  it('starts with npm ci, which needs package-lock.json to match package.json', () => {
    const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as {
      packages: Record<string, { dependencies?: object; devDependencies?: object }>;
    };
    expect(lock.packages['']?.dependencies).toEqual(pkg.dependencies);
    expect(lock.packages['']?.devDependencies).toEqual(pkg.devDependencies);
  });
});
