/**
 * Retention for the log groups Lambda creates by itself: the functions CDK adds for custom
 * resources (the trigger provider, the default security group's restriction) and the master
 * password's rotation function. Without this their logs would be kept forever.
 */
import { CfnResource, Fn, Stack, Validations } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogRetention, type RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * Gives every Lambda function of `stack` that has no log group of its own one with
 * `retention`, by name (/aws/lambda/<function name>). Call last, once every function exists.
 */
export function retainFunctionLogs(stack: Stack, retention: RetentionDays): void {
  const orphans = stack.node.findAll().filter(
    (construct): construct is CfnResource =>
      CfnResource.isCfnResource(construct) &&
      construct.cfnResourceType === 'AWS::Lambda::Function' &&
      (construct as CfnFunction).loggingConfig === undefined &&
      // LogRetention's own function sets a retention on its own log group.
      !construct.node.path.includes('LogRetention'),
  );
  for (const fn of orphans) {
    new LogRetention(stack, `${Stack.of(fn).getLogicalId(fn)}LogRetention`, {
      logGroupName: Fn.join('', ['/aws/lambda/', fn.ref]),
      retention,
    });
  }
  // CDK's one function behind every LogRetention: its role is CDK's to shape.
  for (const provider of stack.node.children.filter((child) =>
    /^LogRetention[0-9a-f]{32}$/.test(child.node.id),
  )) {
    Validations.of(provider).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's log retention function writes only its own logs with the basic execution policy.",
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          "CDK's log retention function sets retention on log groups named at deploy time (generated function names), so its logs:PutRetentionPolicy cannot name them in advance.",
      },
    );
  }
}

/** A retention for a function that exists only by name (e.g. one a SAR application creates). */
export function retainLogsOf(
  stack: Stack,
  id: string,
  functionName: string,
  retention: RetentionDays,
): void {
  new LogRetention(stack, id, { logGroupName: `/aws/lambda/${functionName}`, retention });
}
