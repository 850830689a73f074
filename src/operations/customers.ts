import { CONSENT_CHANNELS, isConsentChannel } from '../customers/consent.js';
import { normalizeEmail, normalizePhone } from '../customers/normalize.js';
import type { CustomerSummary } from '../customers/record.js';
import { customerConsent, setCustomerConsent } from '../store/consents.js';
import {
  customerIdsFor,
  findCustomers as findStoredCustomers,
  loadCustomerDetail,
  loadCustomerSummary,
} from '../store/customer-queries.js';
import {
  eraseCustomer as eraseStoredCustomer,
  exportCustomer as exportStoredCustomer,
} from '../store/customer-rights.js';
import { unmergeCustomer as unmergeStoredCustomer, type Unmerged } from '../store/customers.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';
import { asOperationError } from './store-errors.js';

export type { CustomerSummary } from '../customers/record.js';

/** API lookup: by email, phone (normalized as identities are) or a name/identity prefix; each match as its full record. */
export async function lookupCustomers(
  ctx: OperationContext,
  query: { email?: string; phone?: string; q?: string; limit: number },
): Promise<Array<Record<string, unknown>>> {
  const { email, phone } = query;
  const customers = await findStoredCustomers(ctx.pool, {
    email: email === undefined ? undefined : (normalizeEmail(email, ctx.config.identityPolicy) ?? email),
    phone: phone === undefined ? undefined : (normalizePhone(phone, ctx.defaultRegion) ?? phone),
    q: query.q?.trim(),
    limit: query.limit,
  });
  const detailed = await Promise.all(customers.map((customer) => loadCustomerDetail(ctx.pool, customer.id)));
  return detailed.filter((customer): customer is Record<string, unknown> => customer !== undefined);
}

/** Dashboard search: `#12` or 12 (an id), an email, a phone number, or a name or identity prefix. */
export async function searchCustomers(ctx: OperationContext, text: string): Promise<CustomerSummary[]> {
  const found = new Map<number, CustomerSummary>();
  const raw = text.replace(/^#/, '');
  if (raw === '') return [];
  const byId = /^\d{1,15}$/.test(raw) ? await loadCustomerSummary(ctx.pool, Number(raw)) : undefined;
  if (byId) found.set(byId.id, byId);
  const identity = raw.includes('@')
    ? normalizeEmail(raw)
    : /^[+(\d][\d\s().-]{5,}$/.test(raw)
      ? normalizePhone(raw, ctx.defaultRegion)
      : undefined;
  for (const customer of await findStoredCustomers(ctx.pool, { q: identity ?? raw, limit: 50 }))
    found.set(customer.id, customer);
  return [...found.values()];
}

/** The newest customers (the dashboard's customers page before any search, so it is never empty while there are some). */
export async function newestCustomers(ctx: OperationContext, limit: number): Promise<CustomerSummary[]> {
  return findStoredCustomers(ctx.pool, { limit });
}

/**
 * Ids of the customer a typed value names (an id, an email, a phone or a vendor id), with those merged into it, for
 * filtering runs; empty when it names nobody.
 */
export async function customerIdsMatching(ctx: OperationContext, text: string): Promise<number[]> {
  const raw = text.replace(/^#/, '');
  const values = [raw, raw.toLowerCase(), normalizeEmail(raw), normalizePhone(raw, ctx.defaultRegion)].filter(
    (value): value is string => !!value,
  );
  return customerIdsFor(ctx.pool, { id: /^\d{1,15}$/.test(raw) ? Number(raw) : undefined, values });
}

/** Everything shown about one customer (following merges); NotFound for no such customer. */
export async function getCustomer(ctx: OperationContext, customerId: number): Promise<Record<string, unknown>> {
  const customer = await loadCustomerDetail(ctx.pool, customerId);
  if (!customer) throw new NotFoundError(`no customer ${customerId}`);
  return customer;
}

export interface ConsentInput {
  customerId: number;
  channel: unknown;
  granted: unknown;
  /** Why (asked at the counter, a signed form…); at most 200 characters. Default: the entrance. */
  source?: unknown;
}

/**
 * Records what a customer said about a channel on every address of theirs that reaches it (support staff, the API).
 * Conflict `no_address` when they have none.
 */
export async function setConsent(ctx: OperationContext, actor: Actor, input: ConsentInput) {
  requireRole(actor, 'support');
  const customer = await loadCustomerSummary(ctx.pool, input.customerId);
  if (!customer) throw new NotFoundError(`no customer ${input.customerId}`);
  const { channel, granted, source } = input;
  if (
    !isConsentChannel(channel) ||
    typeof granted !== 'boolean' ||
    (source !== undefined && (typeof source !== 'string' || source.trim() === '' || source.length > 200))
  ) {
    throw new InvalidInputError(
      `send {"channel": ${Object.keys(CONSENT_CHANNELS).join('|')}, "granted": true|false, "source"?: "why, at most 200 characters"}`,
    );
  }
  const why = source?.trim() ?? (actor.via === 'api' ? 'api' : `${actor.via} (${actor.name})`);
  const addresses = await setCustomerConsent(ctx.pool, customer, { channel, granted, source: why, actor: actor.name });
  if (addresses.length === 0)
    throw new ConflictError(
      `customer ${customer.id} has no ${CONSENT_CHANNELS[channel]} to consent for ${channel}`,
      'no_address',
    );
  await audit(ctx, actor, 'customer.consent', `customer:${customer.id}`, {
    channel,
    granted,
    source: why,
    addresses: addresses.length,
  });
  return { customerId: customer.id, channel, consent: (await customerConsent(ctx.pool, customer.id)).consent[channel] };
}

/**
 * Undoes a merge into a customer, named by its merge id or by the merged customer's id (exactly one). Admins only.
 */
export async function unmergeCustomer(
  ctx: OperationContext,
  actor: Actor,
  input: { customerId: number; mergeId?: number; mergedId?: number },
): Promise<Unmerged> {
  requireRole(actor, 'admin');
  if ((input.mergeId === undefined) === (input.mergedId === undefined))
    throw new InvalidInputError('send {"merge_id": N} or {"customer_id": <the merged customer>}');
  const result = await asOperationError(
    unmergeStoredCustomer(ctx.pool, input.customerId, { mergeId: input.mergeId, mergedId: input.mergedId }, actor.name),
  );
  await audit(ctx, actor, 'customer.unmerge', `customer:${result.keptId}`, {
    merge_id: result.mergeId,
    merged_id: result.mergedId,
    restored: result.restored,
  });
  return result;
}

/** Everything crmflow holds about the person, as one JSON document (GDPR access). Admins only. */
export async function exportCustomer(
  ctx: OperationContext,
  actor: Actor,
  input: { customerId: number },
): Promise<Record<string, unknown>> {
  requireRole(actor, 'admin');
  const document = await exportStoredCustomer(ctx.pool, input.customerId);
  if (!document) throw new NotFoundError(`no customer ${input.customerId}`);
  await audit(ctx, actor, 'customer.export', `customer:${input.customerId}`);
  return document;
}

/** Erases the person everywhere (GDPR erasure). Admins only. */
export async function eraseCustomer(ctx: OperationContext, actor: Actor, input: { customerId: number }) {
  requireRole(actor, 'admin');
  const erased = await eraseStoredCustomer(ctx.pool, input.customerId);
  if (!erased) throw new NotFoundError(`no customer ${input.customerId}`);
  // Ids and counts only: the audit log is append-only and must never hold the erased person's data.
  await audit(ctx, actor, 'customer.erase', `customer:${input.customerId}`, {
    customer_ids: erased.customerIds,
    identities: erased.identities,
    rows: erased.rows,
  });
  return erased;
}
