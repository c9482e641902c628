/**
 * The one place that sets the defaults of every Lambda function of the stack, and what every
 * function shares: its telemetry settings and the cdk-nag findings acknowledged for each.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IPrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import {
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BUNDLE } from '../lambda/contract/bundling';
import { Env, type FunctionEnvironment, LibraryEnv } from '../lambda/contract/env';
import { NAMESPACE, SERVICE } from '../lambda/contract/metrics';

const ROOT = new URL('..', import.meta.url).pathname;

export interface LoginQueueFunctionProps
  extends Omit<
    NodejsFunctionProps,
    'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup' | 'environment'
  > {
  /** Which bundle of bundling.ts: the SQS handler or the migration function. */
  readonly entry: keyof typeof BUNDLE.entries;
  /** @default one month */
  readonly logRetention?: RetentionDays;
  /** X-Ray active tracing. @default false */
  readonly xray?: boolean;
  /** Only the names of the contract (lambda/contract/env.ts). @default none */
  readonly environment?: FunctionEnvironment;
}

/** Powertools' settings, the same for every function that logs and publishes metrics. */
export const TELEMETRY = {
  [Env.POWERTOOLS_SERVICE_NAME]: SERVICE,
  [Env.POWERTOOLS_METRICS_NAMESPACE]: NAMESPACE,
  [LibraryEnv.POWERTOOLS_LOG_LEVEL]: 'INFO',
} as const satisfies FunctionEnvironment;

/** The function's execution role; throws for a function without one (an imported function). */
export function executionRole(fn: { role?: IPrincipal }): IPrincipal {
  if (fn.role === undefined) throw new Error('the function has no execution role');
  return fn.role;
}

/**
 * A NodejsFunction with the project's runtime, architecture, bundling and log group (the log
 * group under the id `<id>Logs` beside it), and cdk-nag's findings on the AWS-managed
 * execution policies (and on X-Ray's, when traced) acknowledged.
 */
export function loginQueueFunction(
  scope: Construct,
  id: string,
  props: LoginQueueFunctionProps,
): NodejsFunction {
  const { entry, logRetention, xray, environment, ...rest } = props;
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fn = new NodejsFunction(scope, id, {
    // nodejs20.x is deprecated; the bundle targets node20 syntax, which 24 runs unchanged.
    runtime: Runtime.NODEJS_24_X,
    // Graviton: about 20% cheaper per GB-second, and the code has no native modules.
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(60),
    logGroup,
    // JSON for the platform's lines too; Powertools' own lines are JSON already.
    loggingFormat: LoggingFormat.JSON,
    applicationLogLevelV2: ApplicationLogLevel.INFO,
    systemLogLevelV2: SystemLogLevel.WARN,
    tracing: xray ? Tracing.ACTIVE : Tracing.DISABLED,
    environment: {
      // Stack traces that name the TypeScript source (the bundle ships its source map).
      [LibraryEnv.NODE_OPTIONS]: '--enable-source-maps',
      ...environment,
    },
    projectRoot: ROOT,
    depsLockFilePath: `${ROOT}package-lock.json`,
    entry: BUNDLE.entries[entry],
    bundling: {
      // The same esbuild settings as `npm run build`, so the tested bundle is what ships.
      target: BUNDLE.target,
      format: OutputFormat.CJS,
      mainFields: [...BUNDLE.mainFields],
      minify: BUNDLE.minify,
      sourceMap: BUNDLE.sourceMap,
      sourcesContent: BUNDLE.sourcesContent,
      // Only pg-native: the AWS SDK is bundled (pinned, tested) rather than the runtime's.
      externalModules: [...BUNDLE.externalModules],
      // Local esbuild from node_modules: synth needs no Docker.
      forceDockerBundling: false,
    },
    ...rest,
  });
  if (xray) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords name no resource.",
    });
  }
  for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
    Validations.of(fn).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
      reason:
        'The AWS-managed Lambda execution policies grant only log writing and VPC network interfaces, which the function needs.',
    });
  }
  return fn;
}
