import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../src/cli/error-message.js';
import { testPrefix } from './helpers/crmflow.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `node bin/crmflow.js ARGS` in demo mode (no secrets, embedded PostgreSQL), its output collected. */
function crmflow(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  let output = '';
  const child = spawn(process.execPath, ['bin/crmflow.js', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postgres', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('`npm start` after kill -9', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crmflow-restart-'));
  chmodSync(dataDir, 0o755); // PostgreSQL's own user must reach it when tests run as root
  const started: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const pid = postmasterPid(dataDir);
    if (alive(pid)) process.kill(pid!, 'SIGINT');
    await waitFor('the embedded PostgreSQL to stop', async () => !alive(pid), 30_000).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Three processes each start or reach an embedded PostgreSQL: minutes on a busy machine, so a longer limit than the default.
  it(
    'starts again on the embedded PostgreSQL the killed run left behind, and `identity simulate` works beside it',
    { timeout: 240_000 },
    async () => {
      const port = await freePort();
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: String(port),
        CRMFLOW_QUEUE_PREFIX: testPrefix(),
        CRMFLOW_DATA_DIR: dataDir,
        CRMFLOW_EMBEDDED_PG_PORT: String(await freePort()),
      };
      const ready = (run: ReturnType<typeof crmflow>) =>
        waitFor(
          `crmflow to print its URLs (output so far: ${run.output().slice(-800)})`,
          async () => run.output().includes('/webhooks/shopify') || run.child.exitCode !== null,
          120_000,
          200,
        );

      const first = crmflow(['start'], env);
      started.push(first.child);
      await ready(first);
      const leftover = postmasterPid(dataDir);
      expect(alive(leftover)).toBe(true);
      first.child.kill('SIGKILL');
      await first.exit;
      expect(alive(leftover)).toBe(true); // what the next start meets

      const second = crmflow(['start'], env);
      started.push(second.child);
      await ready(second);
      expect(second.child.exitCode).toBeNull();
      expect(second.output()).not.toMatch(/TypeError|Cannot read properties/);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      // A second command on the same data folder while `start` runs: it uses the running server and leaves it running.
      const simulate = crmflow(['identity', 'simulate'], env);
      expect(await simulate.exit).toBe(0);
      expect(simulate.output()).not.toMatch(/TypeError|Cannot read properties/);
      expect(simulate.output()).toMatch(/customers/i);
      // One line about demo values, not one per variable.
      expect(
        simulate
          .output()
          .split('\n')
          .filter((line) => /DEMO value/.test(line)),
      ).toHaveLength(1);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      // The adopting process stops the server when it shuts down.
      second.child.kill('SIGTERM');
      expect(await second.exit).toBe(0);
      await waitFor('the leftover PostgreSQL to stop', async () => !alive(leftover), 30_000);
    },
  );
});

describe('a failed command says why', () => {
  it('turns whatever a library rejected with into a message', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage(undefined)).toMatch(/failed without a reason/);
    expect(errorMessage('plain text')).toBe('plain text');
    expect(
      errorMessage(
        new AggregateError(
          [new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')],
          '',
        ),
      ),
    ).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
    expect(errorMessage({ code: 'ENOTFOUND' })).toBe('ENOTFOUND');
  });
});
