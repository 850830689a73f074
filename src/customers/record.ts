import type { Identity } from './normalize.js';

/**
 * A live customer as steps, send windows and the entrances see it: the profile columns, the first email and phone,
 * every identity. The customers' domain owns it; the store fills it (`loadCustomerSummary`).
 */
export interface CustomerSummary {
  id: number;
  name: string | null;
  first_name: string | null;
  last_name: string | null;
  language: string | null;
  country: string | null;
  lifecycle_stage: string;
  /** Lead score (the score step). */
  score: number;
  owner_agent_id: string | null;
  email: string | null;
  phone: string | null;
  identities: Identity[];
  attributes: Record<string, unknown>;
  /** Computed traits (`$customer.traits.<name>`): built-in and those declared under `traits:`. Always loaded with the customer. */
  traits?: Record<string, unknown>;
}
