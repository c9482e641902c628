/**
 * Structured JSON logs and CloudWatch Embedded Metric Format metrics (Powertools).
 * Service name, namespace and log level come from the standard POWERTOOLS_* / AWS_LAMBDA_*
 * variables, with the defaults below.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MaintenanceMetric, MetricName, NAMESPACE, SERVICE } from '../contract/metrics';
import type { MaintainResult } from '../db/maintain';
import { loadTelemetryConfig } from '../functions/config';
import type { BatchSummary } from '../ingest/batch';

export { MaintenanceMetric, MetricName, NAMESPACE, SERVICE };

/** A Powertools logger; level and service from POWERTOOLS_LOG_LEVEL, POWERTOOLS_SERVICE_NAME. */
export function createLogger(): Logger {
  return new Logger({ serviceName: loadTelemetryConfig().serviceName });
}

/** Publishes one EMF document per batch (namespace from POWERTOOLS_METRICS_NAMESPACE). */
export function createMetricsPublisher(): (summary: BatchSummary) => void {
  const { serviceName, namespace } = loadTelemetryConfig();
  const metrics = new Metrics({ namespace, serviceName });
  return (summary) => {
    metrics.addMetric(MetricName.Received, MetricUnit.Count, summary.received);
    metrics.addMetric(MetricName.Written, MetricUnit.Count, summary.written);
    metrics.addMetric(MetricName.Duplicates, MetricUnit.Count, summary.duplicates);
    metrics.addMetric(MetricName.DeadLettered, MetricUnit.Count, summary.deadLettered);
    metrics.addMetric(MetricName.Retried, MetricUnit.Count, summary.retried);
    metrics.addMetric(MetricName.WriteStatements, MetricUnit.Count, summary.statements);
    metrics.publishStoredMetrics();
  };
}

/** Publishes one EMF document per maintenance run: its success, the default partition, the drops. */
export function publishMaintenance(result: MaintainResult): void {
  const { serviceName, namespace } = loadTelemetryConfig();
  const metrics = new Metrics({ namespace, serviceName });
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
