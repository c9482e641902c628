/**
 * Names shared by the handler (which publishes the metrics) and the CDK stack (which alarms
 * on them and draws them); no imports, so the stack can read them cheaply.
 */
export const SERVICE = 'login-queue';
export const NAMESPACE = 'LoginQueue';

/** The metric names the handler emits per batch (the dashboard and alarms use them). */
export const MetricName = {
  Received: 'RecordsReceived',
  Written: 'RecordsWritten',
  Duplicates: 'DuplicateDeliveries',
  DeadLettered: 'RecordsDeadLettered',
  Retried: 'RecordsRetried',
  WriteStatements: 'WriteStatements',
} as const;

/** The metrics the scheduled maintenance emits (lambda/functions/migrate.ts). */
export const MaintenanceMetric = {
  Succeeded: 'MaintenanceSucceeded',
  DefaultPartitionRows: 'DefaultPartitionRows',
  PartitionsDropped: 'PartitionsDropped',
  RowsExpired: 'RowsExpired',
} as const;

/** What one batch's metrics count (the ingest pipeline's summary carries these and more). */
export interface BatchCounts {
  readonly received: number;
  readonly written: number;
  readonly duplicates: number;
  readonly deadLettered: number;
  readonly retried: number;
  readonly statements: number;
}

/** What one maintenance run's metrics count (the maintenance result carries these and more). */
export interface MaintenanceCounts {
  /** Rows left in the default partition (no date). */
  readonly defaultRows: number;
  /** The partitions dropped, with the rows each held. */
  readonly dropped: readonly { readonly rows: number }[];
}
