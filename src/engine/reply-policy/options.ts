import { DURATION_SCHEMA, parseDuration } from '../../workflows/duration.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import type { CompileContext } from '../steps/define-step.js';
import { MAX_REPLY_WINDOW_MS, type ReplyPolicy } from './gate.js';

/** The `reply` fields that set its sending policy and language variants, as written in workflows.yaml. */
export interface ReplyPolicyConfig {
  once_per?: string | number;
  max_per_customer?: { count: number; per: string | number };
  template?: { name: string; language: string };
  variants?: Record<string, { subject?: string; body: string }>;
}

export { MAX_REPLY_WINDOW_MS } from './gate.js';

export const REPLY_POLICY_PROPERTIES = {
  once_per: {
    ...DURATION_SCHEMA,
    description:
      'One auto-reply per customer and channel in this window (e.g. `10m`, at most `31d`): three messages in a minute get one answer; the others are recorded as skipped.',
  },
  max_per_customer: {
    type: 'object',
    description:
      'Rate limit: at most `count` auto-replies to one customer per `per` (at most `31d`), counted over every reply step that sets it.',
    properties: { count: { type: 'integer', minimum: 1 }, per: DURATION_SCHEMA },
    required: ['count', 'per'],
    additionalProperties: false,
  },
  template: {
    type: 'object',
    description:
      "WhatsApp: the approved template sent instead of the text outside Meta's 24-hour window (without one, such replies are skipped).",
    properties: {
      name: { type: 'string', minLength: 1 },
      language: { type: 'string', minLength: 1, description: 'Template language code, e.g. `en_US`.' },
    },
    required: ['name', 'language'],
    additionalProperties: false,
  },
  variants: {
    type: 'object',
    description:
      "Per-language texts chosen by the customer's `language` (`pt-BR`, then `pt`); others get `subject`/`body`.",
    propertyNames: { pattern: '^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$' },
    additionalProperties: {
      type: 'object',
      properties: { subject: { type: 'string' }, body: { type: 'string' } },
      required: ['body'],
      additionalProperties: false,
    },
  },
} as const;

export interface ReplyVariant {
  subject?: CompiledTemplate;
  body: CompiledTemplate;
}

export interface CompiledReplyPolicy {
  policy: Omit<ReplyPolicy, 'workflowId' | 'stepId'>;
  /** By lower-case language tag (`pt-br`, `es`). */
  variants: ReadonlyMap<string, ReplyVariant>;
}

/** Checks and prepares the policy fields once, at load. */
export function compileReplyPolicy(
  config: ReplyPolicyConfig & { channel: string },
  context: CompileContext,
): CompiledReplyPolicy {
  if (config.template && !['whatsapp', 'same'].includes(config.channel)) {
    context.fail(
      '`template` applies to WhatsApp replies (Meta approved templates); use channel whatsapp or same',
      'template',
    );
  }
  const window = (field: string, value: string | number) => {
    const ms = parseDuration(value)!;
    if (ms > MAX_REPLY_WINDOW_MS) context.fail('a reply limit window is at most 31d', field);
    return { ms, label: String(value).trim() };
  };
  const per = config.max_per_customer && window('max_per_customer.per', config.max_per_customer.per);
  const policy: CompiledReplyPolicy['policy'] = {
    ...(config.once_per !== undefined ? { oncePer: window('once_per', config.once_per) } : {}),
    ...(config.max_per_customer && per
      ? { maxPerCustomer: { count: config.max_per_customer.count, perMs: per.ms, label: per.label } }
      : {}),
    ...(config.template ? { template: config.template } : {}),
  };
  const variants = new Map<string, ReplyVariant>();
  for (const [language, variant] of Object.entries(config.variants ?? {})) {
    if (variant.subject === undefined && (config.channel === 'email' || config.channel === 'same')) {
      context.fail(`variant ${language} needs \`subject\` (emails have one)`, `variants.${language}`);
    }
    variants.set(language.toLowerCase().replace('_', '-'), {
      subject:
        variant.subject === undefined ? undefined : context.template(`variants.${language}.subject`, variant.subject),
      body: context.template(`variants.${language}.body`, variant.body),
    });
  }
  return { policy, variants };
}

/** The variant for a language: the exact tag (`pt-BR`), then its primary language (`pt`); undefined: the default text. */
export function variantFor(
  variants: ReadonlyMap<string, ReplyVariant>,
  language: string | null | undefined,
): ReplyVariant | undefined {
  if (!language) return undefined;
  const tag = language.trim().toLowerCase().replace('_', '-');
  return variants.get(tag) ?? variants.get(tag.split('-')[0]!);
}
