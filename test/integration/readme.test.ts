/**
 * The README's and the docs' commands: every command line in the `sh` blocks of README.md and
 * of every page under docs/ is either run by a named test or listed here with the reason it
 * cannot run on this machine; every npm script they name exists, and those that run one of
 * our commands answer --help. Every link of these pages and of the community files, its anchor
 * included, and every repository path they name in backticks, exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandScripts, ROOT, runScript } from '../helpers/cli';

/** README.md, the community files and every page under docs/, relative to the repository. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  'SECURITY.md',
  'CHANGELOG.md',
  ...readdirSync(`${ROOT}docs`, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name))
    .sort(),
];
const text = (page: string) => readFileSync(`${ROOT}${page}`, 'utf8');
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Command lines of the pages' sh blocks: continuations joined, comments and blanks dropped. */
function readmeCommands(): string[] {
  const lines: string[] = [];
  for (const [, body = ''] of PAGES.map(text)
    .join('\n')
    .matchAll(/```sh\n([\s\S]*?)```/g)) {
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

/** Command in README or docs -> the test that runs it: [file under test/, test name]. */
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
  'npm run db:connect -- --role analyst': [
    'integration/db-connect.test.ts',
    'prints a psql line that signs in as login_queue_analyst with a new password, and never the admin password',
  ],
  'npm run db:connect -- --role analyst --host <AnalystDatabaseEndpoint> --local-port 15432': [
    'integration/db-connect.test.ts',
    'prints a token signed for the endpoint and a psql line to the local end of the port-forwarding session',
  ],
};

/** Commands in README or docs that no test here can run, and why. */
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
    'needs an AWS account (infra/props.test.ts synthesises its context: "the production settings of docs/operations/deploy.md")',
  'aws sqs send-message --queue-url <QueueUrl> --message-body \'{"user_id":"u1","app_version":"2.3.0","device_type":"android","ip":"198.51.100.7","locale":"en_US","device_id":"d-1"}\'':
    'needs an AWS account',
  'aws logs tail /aws/lambda/<HandlerName> --since 5m': 'needs an AWS account',
  'npx cdk deploy -c alarmEmail=ops@example.com -c analystAccess=ssm -c analystReplica=true -c analysts=arn:aws:iam::111122223333:role/DataAnalyst':
    'needs an AWS account (test/infra/analyst-access.test.ts synthesises this context: the analyst and analystReplica variants)',
  'aws cloudformation describe-stacks --stack-name LoginQueue --query "Stacks[0].Outputs[?starts_with(OutputKey, \'Analyst\')]" --output table':
    'needs an AWS account',
  'export AWS_PROFILE=login-queue-analyst': 'a shell builtin step',
  'aws sts get-caller-identity': 'needs an AWS account',
  'aws ssm start-session --target <AnalystAccessInstanceId> --document-name <AnalystSessionDocument> --parameters localPortNumber=15432':
    'needs an AWS account and the Session Manager plugin (test/infra/analyst-evaluation.test.ts: who may start it)',
  'aws rds generate-db-auth-token --hostname <AnalystDatabaseEndpoint> --port 5432 --username login_queue_analyst --region <region>':
    'needs an AWS account',
  'npm run localstack:up': 'needs Docker and a LocalStack token',
  'npm run localstack:deploy': 'needs Docker and a LocalStack token',
  'npm run localstack:send': 'needs Docker and a LocalStack token',
  'npm run localstack:down': 'needs Docker and a LocalStack token',
  'curl -o global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem':
    'downloads from AWS (db:connect only names the file, tested without it)',
};

/** npm scripts a command line runs: `npm start`, `npm test`, `npm run <name>`. */
function scriptOf(command: string): string | undefined {
  const match = /^npm (?:run )?([\w:-]+)/.exec(command);
  const name = match?.[1];
  return name === undefined || name === 'ci' ? undefined : name;
}

describe('the README and docs/', () => {
  const commands = readmeCommands();

  it('shows commands in their sh blocks, the README its set-up commands', () => {
    expect(commands.length).toBeGreaterThan(10);
    expect(PAGES.length).toBeGreaterThan(10);
    const readme = text('README.md');
    for (const command of ['npm ci', 'npm start', 'npm test']) {
      expect(readme).toContain(`\n${command}\n`);
    }
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

  it.each(PAGES)('%s links only to pages and headings that exist', (page) => {
    const broken = links(page).filter((link) => !resolves(page, link));
    expect(broken).toEqual([]);
  });

  it.each(PAGES)('%s names only repository paths that exist', (page) => {
    const named = [
      ...prose(text(page)).matchAll(/`((?:lambda|infra|test|localstack|docs|\.ci)\/[\w./-]*)`/g),
    ]
      .map((m) => m[1] ?? '')
      .filter((path) => !path.startsWith('test/') || !path.includes('*'));
    expect(named.filter((path) => !existsSync(`${ROOT}${path}`))).toEqual([]);
  });

  it("keeps the README to a newcomer's first ten minutes: at most 150 lines", () => {
    expect(text('README.md').split('\n').length).toBeLessThanOrEqual(151);
  });
});

/** A page without its fenced code blocks (whose `#` lines are comments, not headings). */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The relative links of a page: `[text](target)`, without web and mail addresses. */
function links(page: string): string[] {
  return [...prose(text(page)).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z]+:/.test(target));
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading = ''] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Whether a link from `page` reaches an existing file, and its anchor a heading there. */
function resolves(page: string, link: string): boolean {
  const [path = '', anchor] = link.split('#');
  const target = path === '' ? page : normalize(join(dirname(page), path));
  if (relative(ROOT, join(ROOT, target)).startsWith('..') || !existsSync(`${ROOT}${target}`)) {
    return false;
  }
  return anchor === undefined || anchors(text(target)).has(anchor);
}
