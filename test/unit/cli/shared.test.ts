import { describe, expect, it } from 'vitest';
import { localEndpointDefaults, previewAnswer } from '../../../lambda/cli/shared';

const LOCAL = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};

describe('localEndpointDefaults', () => {
  it.each([
    'http://localhost:4566',
    'http://127.0.0.1:39811',
    'http://[::1]:4566',
    'http://sqs.localhost:4566',
  ])('gives %s a region and dummy credentials when none are set', (endpoint) => {
    expect(localEndpointDefaults(endpoint, {})).toEqual(LOCAL);
  });

  it('keeps the region and credentials the environment sets', () => {
    const env = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA' };
    expect(localEndpointDefaults('http://localhost:4566', env)).toEqual({});
    expect(
      localEndpointDefaults('http://localhost:4566', { AWS_DEFAULT_REGION: 'eu-west-1' }),
    ).toEqual({
      credentials: LOCAL.credentials,
    });
  });

  it.each([undefined, 'https://sqs.eu-west-1.amazonaws.com', 'http://10.0.0.5:4566', 'not a url'])(
    'leaves %s to the SDK (its own region and credential chain)',
    (endpoint) => {
      expect(localEndpointDefaults(endpoint, {})).toEqual({});
    },
  );
});

// A dry run through the operations function: an answer that is not a preview (a function
// deployed before dry runs, which ignores the field) is a failure, never shown as a preview.
describe('previewAnswer', () => {
  it('passes a preview through', () => {
    const preview = { dryRun: true as const, wouldMove: 3 };
    expect(previewAnswer(preview, 'redrive')).toBe(preview);
  });

  it('fails loudly on the answer of a function that did the work for real', () => {
    expect(() => previewAnswer({ method: 'receive-send-delete', moved: 3 }, 'redrive')).toThrow(
      /^the operations function ran redrive for real, not as a dry run: it predates --dry-run \(deploy this version\); its answer: \{"method":"receive-send-delete","moved":3\}$/,
    );
  });
});
