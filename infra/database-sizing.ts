/**
 * The database's size, from props or context, validated before anything is built: instance
 * class, Multi-AZ, deletion protection, storage and backups, and the connection budget that
 * follows from the class's memory (RDS sets PostgreSQL's max_connections from it).
 */
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { PostgresEngineVersion } from 'aws-cdk-lib/aws-rds';

export interface DatabaseSizing {
  /**
   * RDS instance class without the `db.` prefix, one RDS offers for PostgreSQL 17
   * (POSTGRES_17_CLASSES), e.g. `t4g.micro`, `m7g.large`. @default 't4g.micro'
   */
  readonly instanceType?: string;
  /** A standby in a second AZ (automatic failover). @default false */
  readonly multiAz?: boolean;
  /** Refuse to delete the instance (also through `cdk destroy`). @default false */
  readonly deletionProtection?: boolean;
  /** gp3 storage at creation, GiB, 20..65536. @default 20 */
  readonly allocatedStorageGiB?: number;
  /** Storage autoscaling cap, GiB, >= allocatedStorageGiB. @default 100 */
  readonly maxAllocatedStorageGiB?: number;
  /** Days of automated backups, 1..35. @default 7 */
  readonly backupRetentionDays?: number;
}

export interface ResolvedDatabaseSizing {
  readonly instanceType: InstanceType;
  readonly multiAz: boolean;
  readonly deletionProtection: boolean;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly backupRetentionDays: number;
  /** Burstable classes (t*) run on CPU credits. */
  readonly burstable: boolean;
  /** PostgreSQL's max_connections on RDS for this class: LEAST(DBInstanceClassMemory/9531392, 5000). */
  readonly maxConnections: number;
  /** What this pipeline may hold: max_connections less those kept for people and deploys. */
  readonly connectionBudget: number;
}

/** Connections kept back for superusers (3), migrations, the rotation and operators. */
export const RESERVED_CONNECTIONS = 13;

const GIB = 1024 ** 3;

/** The engine the classes below are checked against (database.ts builds the instance with it). */
export const ENGINE_VERSION = PostgresEngineVersion.VER_17;

const T_SIZES = ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'] as const;
const TO_16XL = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'];
const TO_24XL = [...TO_16XL, '24xlarge'];
const TO_32XL = [...TO_24XL, '32xlarge'];
const TO_48XL = [...TO_24XL, '48xlarge'];

/**
 * The classes of the t, m, r and x families that RDS offers for PostgreSQL 17, with their
 * sizes. Source: Amazon RDS User Guide, "Supported DB engines for DB instance classes"
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Support.html),
 * the RDS for PostgreSQL column. Left out on purpose: classes without PostgreSQL 17 (db.t2,
 * db.m4, db.r4), and those whose memory per vCPU the connection estimate below does not model
 * (db.x2iedn, db.x2idn, db.x2iezn, db.z1d). Review this table whenever ENGINE_VERSION changes.
 */
export const POSTGRES_17_CLASSES: Readonly<Record<string, readonly string[]>> = {
  t3: T_SIZES,
  t4g: T_SIZES,
  m5: TO_24XL,
  m6g: TO_16XL,
  m6gd: TO_16XL,
  m6i: TO_32XL,
  m6id: TO_32XL,
  m6idn: TO_32XL,
  m6in: TO_32XL,
  m7g: TO_16XL,
  m7i: TO_48XL,
  m8g: TO_48XL,
  r5: TO_24XL,
  r5b: TO_24XL,
  r6g: TO_16XL,
  r6gd: TO_16XL,
  r6i: TO_32XL,
  r6id: TO_32XL,
  r6idn: TO_32XL,
  r6in: TO_32XL,
  r7g: TO_16XL,
  r7i: TO_48XL,
  r8g: TO_48XL,
  x2g: TO_16XL,
};

// Memory of a size: t-classes by name; m, r and x classes by vCPUs (large = 2) x GiB per vCPU.
const T_MEMORY_GIB: Readonly<Record<string, number>> = {
  micro: 1,
  small: 2,
  medium: 4,
  large: 8,
  xlarge: 16,
  '2xlarge': 32,
};
const GIB_PER_VCPU: Readonly<Record<string, number>> = { m: 4, r: 8, x: 16 };

function fail(message: string): never {
  throw new Error(`LoginQueueStack: ${message}`);
}

/** Checks `instanceType` against POSTGRES_17_CLASSES and returns its memory in GiB. */
function memoryGiB(instanceType: string): number {
  const classes = Object.keys(POSTGRES_17_CLASSES).join(', ');
  if (instanceType.startsWith('db.')) {
    fail(`instanceType is "${instanceType}"; use an RDS class without "db." (e.g. t4g.micro)`);
  }
  const [name = '', size = '', ...rest] = instanceType.split('.');
  const sizes = POSTGRES_17_CLASSES[name];
  if (sizes === undefined || rest.length > 0) {
    fail(
      `instanceType is "${instanceType}", which RDS does not offer for PostgreSQL 17; use one of the classes ${classes} with a size (e.g. t4g.micro, m7g.large, r7g.xlarge)`,
    );
  }
  if (!sizes.includes(size)) {
    fail(
      `instanceType is "${instanceType}", but db.${name} comes in ${sizes.join(', ')}; use one of those (e.g. ${name}.${sizes[0]})`,
    );
  }
  const family = name.charAt(0);
  if (family === 't') return T_MEMORY_GIB[size] ?? fail(`no memory known for ${instanceType}`);
  const vcpus = size === 'large' ? 2 : 4 * Number(size.replace('xlarge', '') || 1);
  return vcpus * (GIB_PER_VCPU[family] ?? fail(`no memory known for ${instanceType}`));
}

function integer(name: string, value: number, min: number, max: number, fix: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} is ${value}; use an integer in ${min}..${max}${fix ? ` (${fix})` : ''}`);
  }
  return value;
}

/** Resolves and checks the sizing; every error names the value, the range and the fix. */
export function resolveDatabaseSizing(
  sizing: DatabaseSizing = {},
  connectionBudget?: number,
): ResolvedDatabaseSizing {
  const name = sizing.instanceType ?? 't4g.micro';
  const memory = memoryGiB(name);
  const allocated = integer(
    'allocatedStorageGiB',
    sizing.allocatedStorageGiB ?? 20,
    20,
    65_536,
    '',
  );
  const max = integer(
    'maxAllocatedStorageGiB',
    sizing.maxAllocatedStorageGiB ?? Math.max(100, allocated),
    allocated,
    65_536,
    'at least allocatedStorageGiB',
  );
  const backups = integer('backupRetentionDays', sizing.backupRetentionDays ?? 7, 1, 35, '');
  // DBInstanceClassMemory is the class's memory less what RDS keeps for itself (~20 %).
  const maxConnections = Math.min(Math.floor((memory * GIB * 0.8) / 9_531_392), 5_000);
  const available = maxConnections - RESERVED_CONNECTIONS;
  const budget = connectionBudget ?? available;
  if (!Number.isInteger(budget) || budget < 2 || budget > available) {
    fail(
      `databaseConnectionBudget is ${budget} but db.${name} allows about ${maxConnections} connections, ${RESERVED_CONNECTIONS} of them kept back; use 2..${available} or a larger instanceType`,
    );
  }
  return {
    instanceType: new InstanceType(name),
    multiAz: sizing.multiAz ?? false,
    deletionProtection: sizing.deletionProtection ?? false,
    allocatedStorageGiB: allocated,
    maxAllocatedStorageGiB: max,
    backupRetentionDays: backups,
    burstable: name.startsWith('t'),
    maxConnections,
    connectionBudget: budget,
  };
}
