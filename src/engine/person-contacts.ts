import { normalizeEmail, normalizePhone } from '../customers/normalize.js';
import type { AgentConfig } from '../workflows/config-types.js';

type Data = Record<string, unknown>;

/**
 * The agent who made a timeline entry, or undefined (automated, or nobody we know):
 * - an `agent_id` already set (a call logged by hand, a reply sent from crmflow) if the agent is declared;
 * - `message.sent` (an email in a mailbox's Sent folder): the mailbox's agent, else the agent whose email is `from`;
 * - a call: the agent whose declared `phone` is the call's `from` or `to` (calls an agent dials or takes).
 */
export function attributeAgent(
  entry: { type: string; data?: unknown },
  agents: ReadonlyMap<string, AgentConfig>,
  defaultRegion: string,
): string | undefined {
  const data = (entry.data ?? {}) as Data;
  const declared = (id: unknown) => (typeof id === 'string' && agents.has(id) ? id : undefined);
  const already = declared(data.agent_id);
  if (already) return already;
  if (entry.type === 'message.sent') {
    const mailboxAgent = declared(data.mailbox_agent);
    if (mailboxAgent) return mailboxAgent;
    const from = typeof data.from === 'string' ? normalizeEmail(data.from) : undefined;
    return from
      ? [...agents.values()].find((agent) => agent.email && normalizeEmail(agent.email) === from)?.id
      : undefined;
  }
  if (entry.type.startsWith('call.')) {
    const phones = new Set(
      [data.from, data.to].map((value) =>
        typeof value === 'string' ? normalizePhone(value.replace(/^whatsapp:/, ''), defaultRegion) : undefined,
      ),
    );
    phones.delete(undefined);
    return [...agents.values()].find((agent) => agent.phone && phones.has(normalizePhone(agent.phone, defaultRegion)))
      ?.id;
  }
  return undefined;
}

/** Message-IDs an email entry refers to (`In-Reply-To`, then `References`), as its mapping lists them in `data.references`. */
export function referencedMessageIds(data: unknown): string[] {
  const references = (data as Data | null | undefined)?.references;
  return Array.isArray(references)
    ? references.filter((value): value is string => typeof value === 'string' && value !== '').slice(0, 50)
    : [];
}
