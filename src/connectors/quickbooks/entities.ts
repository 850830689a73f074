/** The QuickBooks Online entities crmflow follows and how their changes become events. */

export type EntityName = 'Customer' | 'Estimate' | 'Invoice' | 'Payment';

/** A webhook operation (the classic format's spelling). */
export type Operation = 'Create' | 'Update' | 'Void';

export interface EntitySpec {
  /** Event noun, mapping file name and path segment of the read endpoint (`/v3/company/{realmId}/customer/{id}`). */
  noun: string;
  /** Operations that become events; others (Delete, Merge, Emailed) are acknowledged and dropped. */
  operations: readonly Operation[];
  sample: string;
}

export const ENTITIES: Readonly<Record<EntityName, EntitySpec>> = {
  Customer: { noun: 'customer', operations: ['Create', 'Update'], sample: 'customer_read_response' },
  // Estimates (quotes) open sales-pipeline deals; Delete and Emailed are dropped like other entities' extras.
  Estimate: { noun: 'estimate', operations: ['Create', 'Update'], sample: 'estimate_read_response' },
  Invoice: { noun: 'invoice', operations: ['Create', 'Update', 'Void'], sample: 'invoice_read_response' },
  Payment: { noun: 'payment', operations: ['Create', 'Update', 'Void'], sample: 'payment_read_response' },
};

/** Past-tense verb of each operation; the CloudEvents format spells operations this way (`qbo.invoice.voided.v1`). */
export const VERBS: Readonly<Record<Operation, string>> = { Create: 'created', Update: 'updated', Void: 'voided' };

/** The thin payload of a change notification, before enrichment. */
export interface ChangeNotice {
  realmId: string;
  name: EntityName;
  id: string;
  operation: Operation;
  /** As the vendor wrote it. */
  lastUpdated: string;
}

export function entityName(name: unknown): EntityName | undefined {
  return typeof name === 'string' && Object.hasOwn(ENTITIES, name) ? (name as EntityName) : undefined;
}

/** `Customer` from `customer` (CloudEvents types are lower-case). */
export function entityFromNoun(noun: string): EntityName | undefined {
  return (Object.keys(ENTITIES) as EntityName[]).find((name) => ENTITIES[name].noun === noun);
}

export function operationFromVerb(verb: string): Operation | undefined {
  return (Object.keys(VERBS) as Operation[]).find((operation) => VERBS[operation] === verb);
}

export function isFollowed(name: EntityName, operation: unknown): operation is Operation {
  return (ENTITIES[name].operations as readonly unknown[]).includes(operation);
}

export function eventType(name: EntityName, operation: Operation): string {
  return `${ENTITIES[name].noun}.${VERBS[operation]}`;
}

/** ISO UTC; QuickBooks writes offsets as `-0700` in webhooks and `-07:00` in entities. */
export function isoTime(value: string): string {
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? value : time.toISOString();
}

/**
 * `<realmId>:<name>:<id>:<operation>:<lastUpdated>`. The time is normalized to ISO UTC so the classic and CloudEvents
 * formats, and a CDC pull of the same change, give the same id.
 */
export function changeExternalId(notice: ChangeNotice): string {
  return `${notice.realmId}:${notice.name}:${notice.id}:${notice.operation}:${isoTime(notice.lastUpdated)}`;
}
