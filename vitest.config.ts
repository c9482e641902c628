import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Property tests run for seconds on a busy 2-core machine; vitest's default is 5 s.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Builds the Lambda bundle and starts PostgreSQL unless DATABASE_URL is set.
          globalSetup: ['test/helpers/global-setup.ts'],
          // A hang detector, not a speed check: tests that start commands and services took
          // up to 60 s on a shared 2-core machine (npm start twice, --keep with five commands).
          // Above the 240 s a started command may take (test/helpers/cli.ts), so that its own
          // timeout, with its output, fires first.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          // Synthesises every stack variant once (bundling, cdk-nag, CloudFormation validation).
          globalSetup: ['test/helpers/synth-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
