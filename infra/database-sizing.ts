/**
 * The database's size, from props or context, validated before anything is built: instance
 * class, Multi-AZ, deletion protection, storage and backups, and the connection budget that
 * follows from the class's memory (RDS sets PostgreSQL's max_connections from it).
 */
import { InstanceType } from 'aws-cdk-lib/aws-ec2';

export interface DatabaseSizing {
  /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`, `m7g.large`. @default 't4g.micro' */
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
// Memory of a size: t-classes by name; m, r and x classes by vCPUs (large = 2) x GiB per vCPU.
const T_SIZES: Readonly<Record<string, number>> = {
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

function memoryGiB(instanceType: string): number {
  const match = /^([tmrx])(\d+[a-z]*)\.(micro|small|medium|large|(\d*)xlarge)$/.exec(instanceType);
  const family = match?.[1];
  const size = match?.[3];
  if (family === undefined || size === undefined) {
    fail(
      `instanceType is "${instanceType}"; use an RDS class without "db.", of the t, m, r or x families (e.g. t4g.micro, m7g.large, r7g.xlarge)`,
    );
  }
  if (family === 't') {
    return T_SIZES[size] ?? fail(`instanceType "${instanceType}" is not a burstable size`);
  }
  const perVcpu = GIB_PER_VCPU[family] ?? 0;
  if (size === 'large') return 2 * perVcpu;
  if (size.endsWith('xlarge')) return 4 * Number(match?.[4] || 1) * perVcpu;
  return fail(`instanceType "${instanceType}": ${size} exists only for t classes`);
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
