import { parseArgs } from 'node:util';
import { formerOwners, handOver } from '../operations/hand-over.js';
import type { Crmflow } from '../runtime.js';
import { cliActor } from './actor.js';

export const HAND_OVER_USAGE = 'usage: crmflow hand-over AGENT (--to AGENT | --pool POOL), or crmflow hand-over --list';

/**
 * `crmflow hand-over`: moves an agent's customers, open tasks and pending SLAs to another agent or a pool (the same
 * operation as the API and the dashboard, audited as the OS user); `--list` shows owners no longer declared.
 */
export async function runHandOver(
  app: Pick<Crmflow, 'operations'>,
  args: string[],
  out: NodeJS.WritableStream,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { to: { type: 'string' }, pool: { type: 'string' }, list: { type: 'boolean' } },
  });
  const ctx = app.operations;
  if (values.list) {
    const former = await formerOwners(ctx);
    out.write(
      former.length === 0
        ? 'every owner is a declared agent\n'
        : former
            .map((agent) => `${agent.agent_id}: ${agent.customers} customers, ${agent.open_tasks} open tasks\n`)
            .join(''),
    );
    return;
  }
  const [from] = positionals;
  if (!from || (values.to === undefined) === (values.pool === undefined)) throw new Error(HAND_OVER_USAGE);
  const summary = await handOver(ctx, cliActor(), { from, to_agent: values.to, to_pool: values.pool });
  out.write(
    `handed over from ${summary.from} to ${summary.to.join(', ')}: ${summary.customers} customers, ${summary.tasks} open tasks, ${summary.slas} pending SLAs, ${summary.deals} open deals, ${summary.cases} cases\n`,
  );
}
