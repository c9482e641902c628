import { App, CliCredentialsStackSynthesizer, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { keySecret, restrictedKey } from '../../infra/keys';

describe('key secrets', () => {
  it('refuses a synthesizer without the CloudFormation execution role the key policies name, naming the fix', () => {
    // Arrange: a stack deployed with the CLI's own credentials, so no bootstrap role.
    const stack = new Stack(new App(), 'Elsewhere', {
      synthesizer: new CliCredentialsStackSynthesizer(),
    });
    const key = restrictedKey(stack, 'Key', 'a key');
    // Act / Assert
    expect(() => keySecret(stack, 'Secret', 'a secret', key)).toThrow(
      "the stack's synthesizer is CliCredentialsStackSynthesizer; use DefaultStackSynthesizer (the default) and deploy with the bootstrap roles",
    );
  });
});
