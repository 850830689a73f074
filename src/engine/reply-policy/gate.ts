import type { ReplyTemplate } from '../../connectors/define-connector.js';
import { consentOf } from '../../store/consents.js';
import type { Pool } from '../../store/pool.js';
import { claimAllowance, lastInbound, type ReplyLimit } from '../../store/reply-limits.js';

/** The longest `once_per` / `max_per_customer.per`: older counted replies are forgotten. */
export const MAX_REPLY_WINDOW_MS = 31 * 86_400_000;

/** A reply step's sending rules (`once_per`, `max_per_customer`, `template` in workflows.yaml). */
export interface ReplyPolicy {
  /** The workflow and reply step, part of the once-per-window key (with the customer and channel). */
  workflowId: string;
  stepId: string;
  /** One reply per this window. `label` is the duration as written, for skip reasons. */
  oncePer?: { ms: number; label: string };
  /** At most `count` auto-replies to the customer per `perMs`, counted over every reply step that sets a limit. */
  maxPerCustomer?: { count: number; perMs: number; label: string };
  /** The approved template sent instead of the text outside a vendor's messaging window. */
  template?: ReplyTemplate;
}

/** One reply about to go out. */
export interface ReplyDelivery {
  channel: string;
  /** The normalized recipient address (consent and windows are keyed by it). */
  address: string;
  customerId: number | null;
  runId: number | null;
  idempotencyKey: string;
}

/** A vendor's messaging window on the channel (see `ChannelSpec.replyWindow`), and whether it takes templates. */
export interface ChannelRules {
  replyWindow?: { hours: number; rule: string };
  acceptsTemplates: boolean;
}

export type Verdict = { send: 'text' } | { send: 'template'; template: ReplyTemplate } | { skip: string };

/**
 * Decides at send time whether a reply goes out, in this order: the address's consent for the channel, the vendor's
 * messaging window (outside it only an approved template), then the once-per-window and per-customer limits — last,
 * because letting a reply through them counts it.
 */
export async function replyVerdict(
  pool: Pool,
  delivery: ReplyDelivery,
  policy: ReplyPolicy | undefined,
  rules: ChannelRules,
): Promise<Verdict> {
  const consent = await consentOf(pool, delivery.channel, delivery.address);
  if (consent && !consent.granted)
    return { skip: `${delivery.channel} opt-out (${consent.source}) since ${consent.changed_at.toISOString()}` };
  let verdict: Verdict = { send: 'text' };
  if (rules.replyWindow) {
    const last = await lastInbound(pool, delivery.channel, delivery.address);
    if (!last || Date.now() - last.getTime() > rules.replyWindow.hours * 3_600_000) {
      if (!policy?.template || !rules.acceptsTemplates) {
        return {
          skip: `outside ${rules.replyWindow.rule} (last message from the customer: ${last ? last.toISOString() : 'none'})${policy?.template ? `; ${delivery.channel} takes no templates` : ''}`,
        };
      }
      verdict = { send: 'template', template: policy.template };
    }
  }
  const limits = replyLimits(delivery, policy);
  if (limits.length === 0) return verdict;
  const allowance = await claimAllowance(pool, delivery.idempotencyKey, limits, MAX_REPLY_WINDOW_MS);
  if (allowance.allowed) return verdict;
  const since = allowance.since.toISOString();
  return {
    skip: allowance.limit.scope.startsWith('once:')
      ? `once per ${policy!.oncePer!.label}: already answered at ${since}`
      : `at most ${policy!.maxPerCustomer!.count} auto-replies per ${policy!.maxPerCustomer!.label} to this customer (window since ${since})`,
  };
}

function replyLimits(delivery: ReplyDelivery, policy: ReplyPolicy | undefined): ReplyLimit[] {
  if (!policy?.oncePer && !policy?.maxPerCustomer) return [];
  // Without a customer (an email reply to a bare address), the address stands for the person.
  const who = delivery.customerId === null ? `address:${delivery.address}` : `customer:${delivery.customerId}`;
  const limits: ReplyLimit[] = [];
  if (policy.oncePer) {
    limits.push({
      scope: `once:${policy.workflowId}:${policy.stepId}:${who}:${delivery.channel}`,
      max: 1,
      windowMs: policy.oncePer.ms,
    });
  }
  if (policy.maxPerCustomer)
    limits.push({ scope: `rate:${who}`, max: policy.maxPerCustomer.count, windowMs: policy.maxPerCustomer.perMs });
  return limits;
}
