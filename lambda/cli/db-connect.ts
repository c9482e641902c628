/**
 * `npm run db:connect -- --role analyst`: prints a ready `psql` line that signs in as the
 * analyst role. Locally (--database-url, the admin URL npm start prints): a fresh password set
 * through that admin connection. In AWS (--host, the endpoint the analyst path points at): an
 * IAM token, valid 15 minutes, signed with your credentials, for psql through a
 * port-forwarding session. Either way the printed line holds the credential.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { ANALYST_ROLE, OPERATOR_ROLE, WRITER_ROLE } from '../contract/roles';
import { ConfigError, UnreachableError, UsageError } from '../core/errors';
import { reasonOf } from '../core/reason';
import { databaseAddress } from '../db/database-config';
import { createClient } from '../db/pool';
import { newRolePassword } from '../db/sign-in';
import { integerFlag, parseCommandLine, runCommand } from './command';
import { databaseUrlFlag } from './flags';

const BUNDLE_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';
// infra/rds-database.ts's DATABASE_NAME: the database the stack creates.
const RDS_DATABASE = 'logins';
// IAM database authentication tokens live 15 minutes (RDS user guide, "IAM database authentication").
const TOKEN_MINUTES = 15;
// Not 5432: a local PostgreSQL may listen there. The analyst runbook forwards to this port.
const LOCAL_PORT = 15432;

const HELP = `Usage: npm run db:connect -- [--role analyst] [options]

Prints a psql command line, on stdout, that signs in as login_queue_analyst: it reads
user_logins_analytics and every column of user_logins but the sealed PII. The line holds the
credential: keep it out of your shell history (eval "$(npm run -s db:connect -- ...)", or
paste it with a leading space under HISTCONTROL=ignorespace).

Locally: a new random password for the role, set through the admin connection you give
(the DATABASE_URL npm start -- --keep prints); it works until the next db:connect.
  --database-url URL    the local server, as its admin                      [DATABASE_URL]

In AWS: an IAM token (valid ${TOKEN_MINUTES} minutes) signed with your AWS credentials (the analyst
role), for psql through an SSM port-forwarding session to the database; TLS verified against
the RDS CA bundle (${BUNDLE_URL})
and the certificate's name against HOST (sslmode=verify-full).
  --host HOST           the database endpoint the analyst path points at (the stack's
                        AnalystDatabaseEndpoint: the read replica's when there is one)
  --port N              its port (default 5432)
  --region REGION       default: the endpoint's region, else AWS_REGION or your profile's
  --local-port N        the session's local port (default ${LOCAL_PORT})
  --database NAME       default ${RDS_DATABASE}
  --ca-bundle FILE      the RDS CA bundle (default global-bundle.pem, in the directory you
                        run npm from)

  --role ROLE           analyst (the only one; default analyst)
  -h, --help            this text
`;

/** Why a role other than the analyst's cannot be signed in as. */
const REFUSED: Readonly<Record<string, string>> = {
  operator: `${OPERATOR_ROLE} is for the operations function, which audits every call: use the operator commands with --function-url; signing in directly would bypass that audit`,
  writer: `${WRITER_ROLE} is the function's own login (npm start sets its password); people sign in as analyst`,
};

/** A value as a shell word: bare when plain, else double-quoted, else single-quoted. */
function shellWord(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  if (!/[$`"\\!]/.test(value)) return `"${value}"`;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A libpq connection string: key=value pairs, a value quoted when it needs it. */
function conninfo(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([key, value]) =>
      /^[^\s'\\]+$/.test(value) ? `${key}=${value}` : `${key}='${value.replace(/['\\]/g, '\\$&')}'`,
    )
    .join(' ');
}

const psqlLine = (password: string, pairs: Record<string, string>) =>
  `PGPASSWORD=${shellWord(password)} psql ${shellWord(conninfo(pairs))}\n`;

/** The local mode: a new password through the admin URL. Throws UnreachableError naming the address. */
async function local(adminUrl: string): Promise<string> {
  const url = new URL(adminUrl);
  const address = databaseAddress({ kind: 'url', url: adminUrl });
  const admin = createClient({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new UnreachableError(`PostgreSQL at ${address}: ${reasonOf(error)}`, { cause: error });
  }
  let password: string;
  try {
    password = await newRolePassword(admin, ANALYST_ROLE);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ConfigError(`PostgreSQL at ${address}: ${error.message}`);
    throw new UnreachableError(`PostgreSQL at ${address}: ${reasonOf(error)}`, { cause: error });
  } finally {
    await admin.end();
  }
  const sslmode = url.searchParams.get('sslmode');
  const sslrootcert = url.searchParams.get('sslrootcert');
  process.stderr.write(
    `db:connect: ${ANALYST_ROLE} has a new password; the previous one no longer works, this one until the next db:connect\n`,
  );
  return psqlLine(password, {
    host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')),
    port: url.port || '5432',
    dbname: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    user: ANALYST_ROLE,
    ...(sslmode ? { sslmode } : {}),
    ...(sslrootcert ? { sslrootcert } : {}),
  });
}

interface AwsTarget {
  readonly host: string;
  readonly port: number;
  readonly region?: string;
  readonly localPort: number;
  readonly database: string;
  readonly caBundle: string;
}

/** The AWS mode: an IAM token for host:port, psql to the session's local port. */
async function aws(target: AwsTarget): Promise<string> {
  // An RDS endpoint names its region: <id>.<hash>.<region>.rds.amazonaws.com.
  const region =
    target.region ?? /\.([a-z]{2}(?:-[a-z]+)+-\d)\.rds\.amazonaws\.com$/.exec(target.host)?.[1];
  const signer = new Signer({
    hostname: target.host,
    port: target.port,
    username: ANALYST_ROLE,
    ...(region ? { region } : {}),
  });
  let token: string;
  try {
    token = await signer.getAuthToken();
  } catch (error) {
    throw new UnreachableError(
      `cannot sign an IAM token for ${ANALYST_ROLE} at ${target.host}:${target.port}: ${reasonOf(error)}`,
      { cause: error },
    );
  }
  const until = new Date(Date.now() + TOKEN_MINUTES * 60_000).toISOString().slice(11, 19);
  // npm run starts the command in the package's directory; INIT_CWD is where it was typed.
  const bundle = resolve(process.env.INIT_CWD ?? process.cwd(), target.caBundle);
  process.stderr.write(
    `db:connect: IAM token for ${ANALYST_ROLE} at ${target.host}:${target.port}, valid ${TOKEN_MINUTES} minutes (until ${until} UTC); run db:connect again for a new one\n` +
      `db:connect: psql reaches it through your port-forwarding session on 127.0.0.1:${target.localPort}\n`,
  );
  if (!existsSync(bundle))
    process.stderr.write(
      `db:connect: ${bundle} does not exist; get it: curl -o ${shellWord(bundle)} ${BUNDLE_URL}\n`,
    );
  // verify-full through the tunnel: libpq checks the certificate against host (the endpoint,
  // which the certificate names) and connects to hostaddr (the session's local end).
  return psqlLine(token, {
    host: target.host,
    hostaddr: '127.0.0.1',
    port: String(target.localPort),
    dbname: target.database,
    user: ANALYST_ROLE,
    sslmode: 'verify-full',
    sslrootcert: bundle,
  });
}

runCommand('db:connect', async () => {
  const args = parseCommandLine(HELP, {
    options: {
      role: { type: 'string', default: 'analyst' },
      'database-url': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      region: { type: 'string' },
      'local-port': { type: 'string' },
      database: { type: 'string' },
      'ca-bundle': { type: 'string' },
    },
  });
  if (args === undefined) return 0;
  const { values } = args;
  const role = values.role ?? 'analyst';
  const refused = REFUSED[role];
  if (refused !== undefined) throw new UsageError(`--role ${role}: ${refused}`);
  if (role !== 'analyst') throw new UsageError(`--role must be analyst, got "${role}"`);
  const host = values.host?.trim();
  if (host) {
    if (values['database-url'] !== undefined)
      throw new UsageError('give --host (AWS) or --database-url (local), not both');
    const range = { min: 1, max: 65_535, fallback: 5432 };
    process.stdout.write(
      await aws({
        host,
        port: integerFlag(values.port, 'port', range),
        ...(values.region ? { region: values.region } : {}),
        localPort: integerFlag(values['local-port'], 'local-port', {
          ...range,
          fallback: LOCAL_PORT,
        }),
        database: values.database ?? RDS_DATABASE,
        caBundle: values['ca-bundle'] ?? 'global-bundle.pem',
      }),
    );
    return 0;
  }
  const awsOnly = ['port', 'region', 'local-port', 'database', 'ca-bundle'].filter(
    (flag) => values[flag as keyof typeof values] !== undefined,
  );
  if (awsOnly.length > 0) throw new UsageError(`--${awsOnly[0]} needs --host (the AWS mode)`);
  const adminUrl = databaseUrlFlag(
    values['database-url'] ?? (process.env.DATABASE_URL || undefined),
  );
  if (adminUrl === undefined)
    throw new UsageError(
      'a database is needed: --database-url (or DATABASE_URL) for a local server, or --host for RDS',
    );
  process.stdout.write(await local(adminUrl));
  return 0;
});
