import {
  BadRequestError,
  type DirectResponse,
  type ParsedEvent,
  type Secrets,
  type WebhookRequest,
} from '../define-connector.js';
import { parseJsonBody } from '../shared/body.js';
import { safeEqual, verifyHmacSha256 } from '../shared/hmac.js';

/** The channels one Meta app delivers to `/webhooks/meta`. */
export type MetaChannel = 'messenger' | 'instagram' | 'whatsapp';

/** The event payload crmflow stores for each inbound message: one shape for the three channels. */
export interface MetaMessage {
  channel: MetaChannel;
  /** The business side that received it: Facebook Page id, Instagram professional account id, or WhatsApp `phone_number_id`. */
  account_id: string;
  /** Who wrote: Page-scoped id (PSID), Instagram-scoped id (IGSID), or WhatsApp `wa_id` (international digits, no `+`). */
  sender_id: string | null;
  /** The WhatsApp profile name; Messenger and Instagram webhooks carry no name. */
  contact_name: string | null;
  /** `mid` (Messenger, Instagram) or `wamid` (WhatsApp). */
  message_id: string;
  /** `text`, else the attachment type (Messenger, Instagram) or WhatsApp message type (`image`, `interactive`...). */
  type: string;
  /** What the person wrote, or a caption or button label; null for media without one. */
  text: string | null;
  /** ISO 8601 time the message was sent. */
  timestamp: string;
  /** The vendor's message object unchanged (attachments, quick_reply, reply_to, WhatsApp `context`...). */
  message: Record<string, unknown>;
  /** WhatsApp only: the business account (WABA) id, the number written to, and the sender's `contacts[]` entry. */
  whatsapp?: {
    business_account_id: string | null;
    display_phone_number: string | null;
    contact: Record<string, unknown> | null;
  };
}

export type MetaSecrets = Secrets<'app_secret' | 'verify_token' | 'access_token' | 'whatsapp_phone_number_id'>;

const SIGNATURE_PREFIX = 'sha256=';

/**
 * Meta's subscription check: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` is answered with the raw
 * challenge when the token matches, else 403. Deliveries (POST) pass through.
 */
export function handshake(request: WebhookRequest, secrets: MetaSecrets): DirectResponse | undefined {
  if (request.method !== 'GET') return undefined;
  // Express hands the dotted names through literally (`hub.mode`, not `hub: {mode}`); a repeated key is an array.
  const mode = request.query['hub.mode'];
  const token = request.query['hub.verify_token'];
  const challenge = request.query['hub.challenge'];
  if (
    mode !== 'subscribe' ||
    typeof token !== 'string' ||
    !secrets.verify_token ||
    !safeEqual(secrets.verify_token, token)
  ) {
    return { status: 403, contentType: 'text/plain', body: 'hub.mode or hub.verify_token does not match' };
  }
  if (typeof challenge !== 'string' || challenge === '')
    return { status: 400, contentType: 'text/plain', body: 'missing hub.challenge' };
  return { status: 200, contentType: 'text/plain', body: challenge };
}

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, the same for Messenger, Instagram and WhatsApp. */
export function verify(request: WebhookRequest, secrets: MetaSecrets): boolean {
  const header = request.headers['x-hub-signature-256'];
  if (!header?.startsWith(SIGNATURE_PREFIX)) return false;
  return verifyHmacSha256(secrets.app_secret, request.rawBody, header.slice(SIGNATURE_PREFIX.length), 'hex');
}

/** One `message.received` event per inbound message of the delivery, however many entries and messages it batches. */
export function parse(request: WebhookRequest): ParsedEvent[] {
  return parseDelivery(parseJsonBody(request.rawBody, request.headers['content-type']));
}

/** The documented webhook bodies, every field optional: Meta adds fields freely and this is untrusted input. */
interface Delivery {
  object?: unknown;
  entry?: unknown;
}

interface Entry {
  id?: string;
  time?: number;
  messaging?: MessagingItem[];
  standby?: MessagingItem[];
  changes?: Array<{ field?: string; value?: WhatsAppValue }>;
}

interface MessagingItem {
  sender?: { id?: string };
  recipient?: { id?: string };
  timestamp?: number;
  message?: MessengerMessage;
}

interface MessengerMessage extends Record<string, unknown> {
  mid?: string;
  text?: string;
  is_echo?: boolean;
  is_deleted?: boolean;
  is_unsupported?: boolean;
  attachments?: Array<{ type?: string }>;
}

interface WhatsAppValue {
  metadata?: { display_phone_number?: string; phone_number_id?: string };
  contacts?: WhatsAppContact[];
  messages?: WhatsAppMessage[];
}

interface WhatsAppContact extends Record<string, unknown> {
  wa_id?: string;
  profile?: { name?: string };
}

interface WhatsAppMessage extends Record<string, unknown> {
  id?: string;
  from?: string;
  timestamp?: string;
  type?: string;
  text?: { body?: string };
  button?: { text?: string };
  interactive?: { button_reply?: { title?: string }; list_reply?: { title?: string } };
}

const CHANNELS: Readonly<Record<string, MetaChannel>> = {
  page: 'messenger',
  instagram: 'instagram',
  whatsapp_business_account: 'whatsapp',
};

/** The events of a parsed webhook body (exported for the event sample, which is derived from a real delivery). */
export function parseDelivery(body: unknown): ParsedEvent[] {
  const delivery = body as Delivery;
  if (typeof delivery.object !== 'string' || !Array.isArray(delivery.entry)) {
    throw new BadRequestError('not a Meta webhook: expected {"object": "...", "entry": [...]}');
  }
  const channel = CHANNELS[delivery.object];
  // Other objects (user, permissions...) are fields this app may also subscribe to: acknowledged, not retried for days.
  if (!channel) return [];
  return list(delivery.entry as Entry[]).flatMap((entry) =>
    channel === 'whatsapp' ? whatsAppEvents(entry) : messagingEvents(channel, entry),
  );
}

function messagingEvents(channel: 'messenger' | 'instagram', entry: Entry): ParsedEvent[] {
  // `standby` carries messages while another app (a chatbot, a help desk) holds the thread: still the customer writing.
  return [...list(entry.messaging), ...list(entry.standby)].flatMap((item) => {
    const message = item.message;
    // No `message`: delivery/read receipts, postbacks, reactions. Echoes are our own outbound messages, and an
    // Instagram "unsend" notice (`is_deleted`) reuses the deleted message's mid.
    if (!isObject(message) || message.is_echo === true || message.is_deleted === true) return [];
    const mid = required(message.mid, `${channel} message.mid`);
    const timestamp = isoTime(item.timestamp ?? entry.time, 1, `${channel} timestamp`);
    const attachment = list(message.attachments)[0]?.type;
    const type =
      typeof message.text === 'string'
        ? 'text'
        : message.is_unsupported === true
          ? 'unsupported'
          : typeof attachment === 'string'
            ? attachment
            : 'unknown';
    const payload: MetaMessage = {
      channel,
      account_id: required(entry.id ?? item.recipient?.id, `${channel} entry.id`),
      sender_id: required(item.sender?.id, `${channel} sender.id`),
      contact_name: null,
      message_id: mid,
      type,
      text: typeof message.text === 'string' ? message.text : null,
      timestamp,
      message,
    };
    return [{ type: 'message.received', externalId: mid, occurredAt: timestamp, payload }];
  });
}

function whatsAppEvents(entry: Entry): ParsedEvent[] {
  return (
    list(entry.changes)
      // Statuses (sent/delivered/read of our own messages) share the `messages` field but have no `messages[]`.
      .filter((change) => change.field === 'messages' && isObject(change.value))
      .flatMap(({ value }) => {
        const { metadata, contacts, messages } = value as WhatsAppValue;
        const phoneNumberId = required(metadata?.phone_number_id, 'whatsapp metadata.phone_number_id');
        const people = list(contacts);
        return (
          list(messages)
            // `system` notices (the user changed number) come from WhatsApp, not from the customer.
            .filter((message) => message.type !== 'system')
            .map((message): ParsedEvent => {
              const id = required(message.id, 'whatsapp messages[].id');
              const timestamp = isoTime(message.timestamp, 1000, 'whatsapp messages[].timestamp');
              const contact =
                people.find((person) => person.wa_id === message.from) ?? (people.length === 1 ? people[0]! : null);
              const payload: MetaMessage = {
                channel: 'whatsapp',
                account_id: phoneNumberId,
                sender_id: typeof message.from === 'string' ? message.from : null,
                contact_name: typeof contact?.profile?.name === 'string' ? contact.profile.name : null,
                message_id: id,
                type: typeof message.type === 'string' ? message.type : 'unknown',
                text: whatsAppText(message),
                timestamp,
                message,
                whatsapp: {
                  business_account_id: entry.id ?? null,
                  display_phone_number: metadata?.display_phone_number ?? null,
                  contact,
                },
              };
              return { type: 'message.received', externalId: id, occurredAt: timestamp, payload };
            })
        );
      })
  );
}

/** The words of a WhatsApp message: its text, a reply button's label, or a media caption. */
function whatsAppText(message: WhatsAppMessage): string | null {
  const media = typeof message.type === 'string' ? message[message.type] : undefined;
  const caption = isObject(media) && typeof media.caption === 'string' ? media.caption : undefined;
  const text =
    message.text?.body ??
    message.button?.text ??
    message.interactive?.button_reply?.title ??
    message.interactive?.list_reply?.title ??
    caption;
  return typeof text === 'string' ? text : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object elements of what should be an array; anything else is empty. */
function list<T extends object>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? (value.filter(isObject) as T[]) : [];
}

function required(value: unknown, what: string): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new BadRequestError(`${what} is missing`);
}

/** Meta times are epoch numbers: milliseconds on Messenger and Instagram, seconds (as a string) on WhatsApp. */
function isoTime(value: unknown, toMs: number, what: string): string {
  const epoch = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  const date = typeof epoch === 'number' ? new Date(epoch * toMs) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new BadRequestError(`${what} is missing or not an epoch time`);
  return date.toISOString();
}
