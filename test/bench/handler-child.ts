/**
 * Benchmark child: one "Lambda container" per batch size, so peak RSS is the process's own.
 * It is bundled and run by plain node (no TypeScript loader in the measured process): it
 * loads the shipped handler bundle, warms it up with one untimed batch of `size`, runs `reps`
 * batches of `size` new messages, and sends back the timings, the write statements per batch
 * (from the handler's own log line) and the process's peak RSS.
 */
import { createRequire } from 'node:module';
import type { SQSEvent } from 'aws-lambda';
import type { SqsHandler } from '../../lambda/local/bundle';
import { generateBodies } from '../../lambda/local/generate';

export interface ChildRequest {
  /** Absolute path of dist/handler/index.js. */
  readonly bundle: string;
  readonly size: number;
  readonly reps: number;
  readonly env: Record<string, string>;
}

export interface ChildResult {
  readonly size: number;
  readonly totalMs: number;
  /** Each batch's duration, in order. */
  readonly batchMs: readonly number[];
  readonly records: number;
  readonly statementsPerBatch: number;
  readonly peakRssMb: number;
}

const event = (bodies: string[], rep: number): SQSEvent => ({
  Records: bodies.map((body, i) => ({
    messageId: `bench-${rep}-${i}-${process.pid}`,
    receiptHandle: 'r',
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'bench',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:login-queue',
    awsRegion: 'us-east-1',
  })),
});

const context = {
  functionName: 'bench',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 900_000,
};

process.once('message', async ({ bundle, size, reps, env }: ChildRequest) => {
  const statements: number[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // The handler logs one JSON line per batch; read its statement count, print nothing.
  process.stdout.write = ((chunk: unknown) => {
    for (const line of String(chunk).split('\n')) {
      if (line.includes('"batch processed"')) statements.push(JSON.parse(line).statements);
    }
    return true;
  }) as typeof process.stdout.write;
  Object.assign(process.env, env);
  const handler = (createRequire(import.meta.url)(bundle) as { handler: SqsHandler }).handler;
  const bodies = generateBodies(size, { seed: size, invalidRate: 0 });
  // Connect, fetch the key, and let V8 compile the hot path with one batch of the measured
  // size: the figures are a warm container's, as in a sustained drain.
  await handler(event(bodies, -1), context);
  statements.length = 0;
  const batchMs: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const batch = event(bodies, rep);
    const started = performance.now();
    const response = await handler(batch, context);
    batchMs.push(performance.now() - started);
    if (response.batchItemFailures.length > 0) throw new Error('benchmark batch had failures');
  }
  process.stdout.write = write;
  const result: ChildResult = {
    size,
    totalMs: batchMs.reduce((a, b) => a + b, 0),
    batchMs,
    records: size * reps,
    statementsPerBatch: statements.reduce((a, b) => a + b, 0) / statements.length,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.send?.(result, () => process.exit(0));
});
