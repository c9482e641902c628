/**
 * Structured JSON logs and CloudWatch Embedded Metric Format metrics (Powertools).
 * Service name, namespace and log level come from the standard POWERTOOLS_* / AWS_LAMBDA_*
 * variables, with the defaults below.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchSummary } from './batch';

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

export function createLogger(): Logger {
  return new Logger({ serviceName: SERVICE });
}

/** Publishes one EMF document per batch. */
export function createMetricsPublisher(): (summary: BatchSummary) => void {
  const metrics = new Metrics({ namespace: NAMESPACE, serviceName: SERVICE });
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
