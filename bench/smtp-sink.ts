import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * The bench's SMTP sink, run as a child process (so its CPU is measured apart and it never shares an event loop with
 * the load generator): accepts every message, keeps only a count. Reports `{ port }` over IPC once listening and
 * answers `count` (and `reset`, which zeroes it) with `{ count }`.
 */
let count = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      count++;
      callback();
    });
  },
});
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.server.address() as AddressInfo).port });
});
process.on('message', (message: { type?: string }) => {
  if (message.type === 'count') process.send?.({ count });
  if (message.type === 'reset') {
    count = 0;
    process.send?.({ count });
  }
});
process.on('disconnect', () => process.exit(0));
