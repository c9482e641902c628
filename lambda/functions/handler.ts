/**
 * Lambda entry point: an SQS event source mapping with ReportBatchItemFailures.
 * Dependencies are built once per container; the handler only adds the Lambda context.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { endPool } from '../db/pool';
import { loadConfig, loadTelemetryConfig } from './config';
import { createRuntime } from './runtime';

const runtime = createRuntime(loadConfig(), loadTelemetryConfig());

export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  runtime.logger.addContext(context);
  return runtime.processBatch(event);
};

/** Ends the container's database pool. Lambda never calls it; local runs do before stopping their database. */
export const close = (): Promise<void> => endPool(runtime.pool);
