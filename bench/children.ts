import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A bench helper (`bench/<file>.ts`) in its own Node process through tsx, answering `{ port }` over IPC once ready. */
export async function forkHelper(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), args, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    child.on('message', (message: { port?: number }) => {
      if (message.port) {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
  });
  return { child, port };
}

/** Asks a forked helper something over IPC and waits for the answer carrying `key`. */
export function askHelper<T>(child: ChildProcess, message: object, key: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (answer: Record<string, unknown>) => {
      if (key in answer) {
        child.off('message', listener);
        resolve(answer[key] as T);
      }
    };
    child.on('message', listener);
    child.send(message);
  });
}

/**
 * `node [nodeArgs] <root>/bin/crmflow.js <role>` with `env` (`--cpu-prof` is refused in NODE_OPTIONS, hence `nodeArgs`); resolves once its start-up log line (`ready`) appeared on stdout. Output is
 * scanned, not kept: lines with `count` substrings are counted (e.g. reconciler re-enqueues), warnings and errors are
 * echoed in a short form.
 */
export async function startCrmflowProcess(
  root: string,
  role: 'api' | 'worker' | 'start',
  env: Record<string, string>,
  counters: Record<string, number>,
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, `${root}/bin/crmflow.js`, role], {
    env: { ...process.env, ...env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = role === 'worker' ? 'worker started' : 'crmflow is running';
  let echoed = 0;
  let buffered = '';
  const scan = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      for (const key of Object.keys(counters)) if (line.includes(key)) counters[key]!++;
      if (/"level":(40|50|60)/.test(line) && echoed++ < 5)
        process.stderr.write(`  [${role} ${child.pid}] ${line.slice(0, 300)}\n`);
      if (line.includes(ready)) child.emit('ready');
    }
  };
  child.stdout!.on('data', scan);
  child.stderr!.on('data', (chunk: Buffer) =>
    process.stderr.write(`  [${role} ${child.pid} stderr] ${chunk.toString('utf8').slice(0, 500)}`),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crmflow ${role} did not start within 60 s`)), 60_000);
    child.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`crmflow ${role} exited with ${code} while starting`)));
  });
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (it writes its CPU profile on the way). */
export async function stopProcess(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
