import { normalizeEmail, normalizePhone, type Identity } from './normalize.js';

/** Keys whose digits-only or national-format values are phone numbers (Twilio `From`, WhatsApp `wa_id`...). */
const PHONE_KEY = /phone|mobile|wa_id|msisdn|caller|called|^from$|^to$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Deepest nesting walked; vendor payloads stay far below (deeper bodies are refused at parse). */
const MAX_DEPTH = 20;

/**
 * Every email and phone number a delivery's payload names, normalized as customer identities are (emails lowercased,
 * and for Gmail also folded; phones E.164), so that erasure can find the delivery by any identity of the person,
 * whatever field or vendor shape holds it. Over-inclusive by design: a business's own number is harmless here.
 */
export function deliveryIdentities(payload: unknown, defaultRegion: string): Identity[] {
  const found = new Map<string, Identity>();
  const add = (kind: string, value: string | undefined) => {
    if (value !== undefined) found.set(`${kind}\u0000${value}`, { kind, value });
  };
  const visit = (value: unknown, key: string, depth: number) => {
    if (depth > MAX_DEPTH || value === null || value === undefined) return;
    if (typeof value === 'string') {
      const text = value.trim();
      if (text.length > 320) return;
      if (EMAIL.test(text)) {
        add('email', normalizeEmail(text));
        add('email', normalizeEmail(text, { foldGmail: true }));
      } else if (/^\+\d[\d\s().-]{6,20}$/.test(text)) add('phone', normalizePhone(text, defaultRegion));
      else if (PHONE_KEY.test(key) && /^[\d\s().+-]{7,24}$/.test(text)) {
        // Twilio prefixes `whatsapp:`; WhatsApp ids are international numbers without the plus.
        add('phone', normalizePhone(text, defaultRegion));
        if (/^\d{10,15}$/.test(text)) add('phone', normalizePhone(`+${text}`, defaultRegion));
      }
      return;
    }
    if (typeof value !== 'object') return;
    for (const [childKey, child] of Array.isArray(value)
      ? value.map((item) => [key, item] as const)
      : Object.entries(value)) {
      visit(
        typeof child === 'string' && child.startsWith('whatsapp:') ? child.slice('whatsapp:'.length) : child,
        String(childKey),
        depth + 1,
      );
    }
  };
  visit(payload, '', 0);
  return [...found.values()];
}
