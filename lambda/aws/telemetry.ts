/**
 * Structured JSON logs and CloudWatch Embedded Metric Format metrics (Powertools). The service
 * name and namespace are given (lambda/functions/config.ts reads them); the log level comes
 * from POWERTOOLS_LOG_LEVEL / AWS_LAMBDA_LOG_LEVEL, which Powertools reads itself.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type BatchCounts,
  type MaintenanceCounts,
  MaintenanceMetric,
  MetricName,
} from '../contract/metrics';

/** The names logs and metrics are published under. */
export interface TelemetryConfig {
  readonly serviceName: string;
  readonly namespace: string;
}

/** A Powertools logger for the service; its level from POWERTOOLS_LOG_LEVEL. */
export function createLogger(telemetry: Pick<TelemetryConfig, 'serviceName'>): Logger {
  return new Logger({ serviceName: telemetry.serviceName });
}

/** Publishes one EMF document per batch. */
export function createMetricsPublisher(telemetry: TelemetryConfig): (counts: BatchCounts) => void {
  const metrics = new Metrics({
    namespace: telemetry.namespace,
    serviceName: telemetry.serviceName,
  });
  return (counts) => {
    metrics.addMetric(MetricName.Received, MetricUnit.Count, counts.received);
    metrics.addMetric(MetricName.Written, MetricUnit.Count, counts.written);
    metrics.addMetric(MetricName.Duplicates, MetricUnit.Count, counts.duplicates);
    metrics.addMetric(MetricName.DeadLettered, MetricUnit.Count, counts.deadLettered);
    metrics.addMetric(MetricName.Retried, MetricUnit.Count, counts.retried);
    metrics.addMetric(MetricName.WriteStatements, MetricUnit.Count, counts.statements);
    metrics.publishStoredMetrics();
  };
}

/** Publishes one EMF document per maintenance run: its success, the default partition, the drops. */
export function publishMaintenance(telemetry: TelemetryConfig, result: MaintenanceCounts): void {
  const metrics = new Metrics({
    namespace: telemetry.namespace,
    serviceName: telemetry.serviceName,
  });
  metrics.addMetric(MaintenanceMetric.Succeeded, MetricUnit.Count, 1);
  metrics.addMetric(MaintenanceMetric.DefaultPartitionRows, MetricUnit.Count, result.defaultRows);
  metrics.addMetric(MaintenanceMetric.PartitionsDropped, MetricUnit.Count, result.dropped.length);
  metrics.addMetric(
    MaintenanceMetric.RowsExpired,
    MetricUnit.Count,
    result.dropped.reduce((sum, drop) => sum + drop.rows, 0),
  );
  metrics.publishStoredMetrics();
}
