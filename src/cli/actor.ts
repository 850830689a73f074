import { userInfo } from 'node:os';
import type { Actor } from '../operations/context.js';

/** Who ran a command: the operating-system user, with admin rights (they can read the database anyway). */
export function cliActor(): Actor {
  return { name: `cli:${userInfo().username}`, role: 'admin', ip: null, via: 'cli' };
}
