/**
 * `npm run localstack:up` / `localstack:down` without a usable `docker compose`: one line that
 * names what is missing and exit 1, instead of docker's "unknown shorthand flag".
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'login-queue-compose-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The one outside tool the script needs, alone, so that no docker installed here is found.
const tools = join(dir, 'tools');
mkdirSync(tools);
symlinkSync(
  execFileSync('/bin/sh', ['-c', 'command -v dirname'], { encoding: 'utf8' }).trim(),
  join(tools, 'dirname'),
);

/** Runs the script with only `path` and the tools above on PATH. */
function compose(path: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      [join(root, 'localstack/compose.sh'), ...args],
      { env: { PATH: `${path}:${tools}` } },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
    );
  });
}

/** A `docker` that answers like the CLI without the compose plugin, recording its calls. */
function dockerWithoutCompose(): string {
  const bin = join(dir, 'no-compose');
  writeFileSync(join(dir, 'calls'), '');
  mkdirSync(bin, { recursive: true });
  const docker = join(bin, 'docker');
  writeFileSync(
    docker,
    `#!/bin/sh\necho "$@" >> ${join(dir, 'calls')}\necho "docker: unknown command: docker compose" >&2\nexit 1\n`,
  );
  chmodSync(docker, 0o755);
  return bin;
}

describe('localstack/compose.sh', () => {
  it('is what npm run localstack:up and localstack:down run', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(scripts['localstack:up']).toBe('sh localstack/compose.sh up -d --wait');
    expect(scripts['localstack:down']).toBe('sh localstack/compose.sh down -v');
  });

  it('without docker on PATH, says so in one line and exits 1', async () => {
    const result = await compose(join(dir, 'empty'), ['up', '-d', '--wait']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'localstack: needs Docker with its compose plugin; docker is not on PATH (see https://docs.docker.com/compose/install/)\n',
    );
  });

  it('with docker but not its compose plugin, says so in one line, exits 1, and runs nothing else', async () => {
    const result = await compose(dockerWithoutCompose(), ['up', '-d', '--wait']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "localstack: needs Docker's compose plugin; 'docker compose version' failed (see https://docs.docker.com/compose/install/)\n",
    );
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toBe('compose version\n');
  });
});
