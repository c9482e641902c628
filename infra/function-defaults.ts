/**
 * The one place that sets the defaults of every Lambda function of the stack.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
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

const ROOT = new URL('..', import.meta.url).pathname;

export interface LoginQueueFunctionProps
  extends Omit<
    NodejsFunctionProps,
    'entry' | 'runtime' | 'architecture' | 'bundling' | 'logGroup'
  > {
  /** Which bundle of bundling.ts: the SQS handler or the migration function. */
  readonly entry: keyof typeof BUNDLE.entries;
  /** @default one month */
  readonly logRetention?: RetentionDays;
  /** X-Ray active tracing. @default false */
  readonly xray?: boolean;
}

/** A NodejsFunction with the project's runtime, architecture, bundling and log group. */
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
  return new NodejsFunction(scope, id, {
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
      NODE_OPTIONS: '--enable-source-maps',
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
}
