import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const DOVECOT = ['/usr/sbin/dovecot', '/usr/bin/dovecot'].find((path) => existsSync(path));

/** Why Dovecot tests cannot run here, or undefined when they can (Debian's dovecot-imapd is installed). */
export const dovecotMissing = DOVECOT
  ? undefined
  : 'Dovecot is not installed (apt-get install -y dovecot-imapd; .ci/run does): IMAP tests skipped';

export interface Dovecot {
  port: number;
  /** `imap://user:password@127.0.0.1:port` for one of the users. */
  url: (user: string) => string;
  stop: () => Promise<void>;
  /** Starts the same server again (same port, same mail): what a network outage or server restart looks like. */
  restart: () => Promise<void>;
  remove: () => Promise<void>;
}

const PASSWORD = 'imap-test-password';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A Dovecot of the test's own: a config file in a temp folder, its own port, a passwd-file with `users` (password
 * PASSWORD), mail in Maildirs under the same folder, a Sent folder marked \Sent. No system service is involved.
 */
export async function startDovecot(users: string[]): Promise<Dovecot> {
  if (!DOVECOT) throw new Error(dovecotMissing);
  const dir = mkdtempSync(join(tmpdir(), 'crmflow-dovecot-'));
  // Dovecot's auth and mail processes run as its own users: they must reach the passwd-file and the Maildirs.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const me = userInfo();
  // As root, mail belongs to the dovecot system user (Dovecot refuses root mail processes); otherwise to whoever runs.
  const mailUser = me.uid === 0 ? 'dovecot' : me.username;
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'passwd'), users.map((user) => `${user}:{PLAIN}${PASSWORD}::::::\n`).join(''));
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:${dir}/mail/%u
first_valid_uid = 0
default_internal_user = ${me.uid === 0 ? 'dovecot' : me.username}
default_login_user = ${me.uid === 0 ? 'dovenull' : me.username}
${me.uid === 0 ? '' : `default_internal_group = ${me.username}\n`}service imap-login {
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${mailUser} gid=${mailUser} home=${dir}/mail/%u
}
namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
}
`,
  );
  if (me.uid === 0) chownSync(join(dir, 'mail'), Number(readId('u', mailUser)), Number(readId('g', mailUser)));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await answers(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `Dovecot did not answer on port ${port}: ${existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : 'no log'}`,
    );
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return {
    port,
    url: (user) => `imap://${encodeURIComponent(user)}:${PASSWORD}@127.0.0.1:${port}`,
    stop,
    restart: start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readId(kind: 'u' | 'g', name: string): string {
  const file = readFileSync(kind === 'u' ? '/etc/passwd' : '/etc/group', 'utf8');
  const line = file.split('\n').find((entry) => entry.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${kind === 'u' ? 'user' : 'group'} ${name}`);
  return line.split(':')[2]!;
}

/** Waits until crmflow has read every folder of the mailboxes `names` once: mail delivered from then on is new mail. */
export async function mailboxesRead(
  pool: { query: (sql: string) => Promise<{ rows: Array<{ cursor: unknown }> }> },
  names: string[],
): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const { rows } = await pool.query(
      "SELECT cursor FROM connector_cursors WHERE connector = 'email' AND resource = 'mail'",
    );
    const cursor = (rows[0]?.cursor ?? {}) as Record<string, { inbox?: unknown; sent?: unknown }>;
    if (names.every((name) => cursor[name]?.inbox && cursor[name]?.sent)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the mailboxes ${names.join(', ')} were never read`);
}
