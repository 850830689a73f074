import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { FORM_CONNECTOR } from './helpers/engine.js';
import { freePort } from './helpers/net.js';
import { formHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `version: 1\n${FORM_CONNECTOR}\nworkflows:\n  - id: lead\n    trigger: { type: webhook, connector: form, event: lead.submitted }\n    steps: [{ type: map }, { type: upsert_customer }]\n`;

/** The child processes of `pid`, from their parent pid in /proc (Linux). */
/**
 * The `crmflow worker` child processes of `pid` (by the parent pid in /proc/<child>/stat and the command line): tsx's
 * esbuild service is a child of the parent too, at nice 0.
 */
const workersOf = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes('worker');
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);

/** The nice value of each thread of `pid` (Linux keeps one per thread: field 19 of its stat). */
const threadNiceness = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).map((thread) => {
    const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `crmflow start` runs its worker in a child process: webhooks are acknowledged in an event loop no run holds. */
describe('`crmflow start` and its worker process', () => {
  let db: TestDatabase;
  let parent: ChildProcess;
  let port: number;
  let output = '';
  const seen: number[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    const env = {
      ...process.env,
      ...testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
      PORT: String(port),
      LOG_LEVEL: 'info', // the start-up and restart lines are what the test reads
      CI: 'true',
    };
    parent = spawn(process.execPath, ['bin/crmflow.js', 'start'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    parent.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    parent.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      `crmflow to start (output: ${output.slice(-500)})`,
      async () => output.includes('crmflow is running'),
      90_000,
      200,
    );
  }, 120_000);

  afterAll(async () => {
    if (parent.exitCode === null) parent.kill('SIGKILL');
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await db?.drop();
  });

  const deliver = async (id: string) => {
    const body = JSON.stringify({ submission_id: id, name: 'Ana Child', email: `${id}@child.example` });
    const response = await fetch(`http://127.0.0.1:${port}/webhooks/form`, {
      method: 'POST',
      body,
      headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
    });
    expect(response.status).toBe(202);
  };
  const succeeded = () => count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'succeeded'");

  it('runs workflows in a child process, restarts it when it dies, and the child ends with the parent', async () => {
    const [first] = workersOf(parent.pid!);
    expect(first).toBeDefined();
    seen.push(first!);
    await deliver('child-1');
    await waitFor('the first run', async () => (await succeeded()) === 1, 30_000);
    // Every thread of the child at nice 10, the garbage collector's and libuv's too, not only its main thread.
    const niceness = threadNiceness(first!);
    expect(niceness.length).toBeGreaterThan(1);
    expect(new Set(niceness)).toEqual(new Set([10]));

    process.kill(first!, 'SIGKILL');
    await waitFor('a new worker process', async () => workersOf(parent.pid!).some((pid) => pid !== first), 30_000);
    const second = workersOf(parent.pid!).find((pid) => pid !== first)!;
    seen.push(second);
    expect(output).toMatch(/the worker process exited; restarting it/);
    await deliver('child-2');
    await waitFor('the run the restarted worker works', async () => (await succeeded()) === 2, 60_000);

    // kill -9 of the parent: no signal reaches the child, its IPC channel closes and it shuts down by itself.
    parent.kill('SIGKILL');
    await waitFor('the orphaned worker to stop', async () => !alive(second), 30_000);
  }, 150_000);
});
