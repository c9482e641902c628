/**
 * Order-preserving integer encoding of numeric dot-separated versions.
 *
 * `major.minor.patch` -> major * 1_000_000 + minor * 1_000 + patch, missing parts are 0.
 * minor and patch must be 0..999 and the result must fit PostgreSQL `integer`
 * (major <= 2146), so integer order equals version order and no two different versions
 * collide: 2.3.0 -> 2003000, 2.10.0 -> 2010000, 21.0.0 -> 21000000.
 * Components are numbers, not decimals: "0.60" is minor 60 (60000), "0.6" is minor 6 (6000);
 * "2.0", "2.00" and "2.0.0" are the same version (2000000).
 */

const VERSION = /^(\d{1,4})(?:\.(\d{1,3}))?(?:\.(\d{1,3}))?$/;
// 2146.999.999 is the largest version whose every minor/patch fits PostgreSQL integer.
const MAX_MAJOR = 2146;

/** Encodes a version string, or returns undefined when it cannot be encoded. */
export function encodeVersion(version: string): number | undefined {
  const match = VERSION.exec(version);
  if (match === null) return undefined;
  const [, major = '0', minor = '0', patch = '0'] = match;
  if (Number(major) > MAX_MAJOR) return undefined;
  return Number(major) * 1_000_000 + Number(minor) * 1_000 + Number(patch);
}

/** Inverse of `encodeVersion`: 2010000 -> "2.10.0". */
export function decodeVersion(encoded: number): string {
  const major = Math.floor(encoded / 1_000_000);
  const minor = Math.floor(encoded / 1_000) % 1_000;
  return `${major}.${minor}.${encoded % 1_000}`;
}
