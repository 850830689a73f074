import { BadRequestError, type ParsedEvent } from '../define-connector.js';

/** Twilio webhook parameters as received: every value is a string. */
export type TwilioParams = Record<string, string>;

/** Final call statuses where nobody talked (Call resource statuses). */
const MISSED = new Set(['busy', 'no-answer', 'failed', 'canceled']);

/** The event type of a call in `status`; undefined while the call is not over (queued, ringing, in-progress). */
export function callEventType(status: string | undefined): 'call.completed' | 'call.missed' | undefined {
  if (status === 'completed') return 'call.completed';
  return status !== undefined && MISSED.has(status) ? 'call.missed' : undefined;
}

/** Twilio writes times as RFC 2822 (`Tue, 10 Jan 2023 18:24:32 +0000`); undefined when absent or unreadable. */
export function rfc2822ToIso(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/** A call status callback (or a pulled call in the same shape): one event once the call is over, none before. */
export function callEvents(params: TwilioParams, receivedAt: string): ParsedEvent[] {
  const type = callEventType(params.CallStatus);
  if (!type) return [];
  // One status per call is final, so CallSid + status names the outcome however often Twilio or a pull reports it.
  return [
    {
      type,
      externalId: `${params.CallSid}:${params.CallStatus}`,
      occurredAt: rfc2822ToIso(params.Timestamp) ?? receivedAt,
      payload: params,
    },
  ];
}

/**
 * Events in one Twilio webhook. Voice requests before the end of the call (ringing, in-progress) carry no outcome and
 * yield nothing: the final status callback reports the call once, with its duration. Status callbacks of outbound
 * messages (a `MessageSid` without `Body`) yield nothing either.
 */
export function eventsFromParams(params: TwilioParams, receivedAt: string): ParsedEvent[] {
  if (params.CallSid) return callEvents(params, receivedAt);
  const messageSid = params.MessageSid ?? params.SmsMessageSid ?? params.SmsSid;
  if (messageSid && params.Body !== undefined) {
    // Incoming messages carry no timestamp: the receipt time is the best there is.
    return [{ type: 'message.received', externalId: messageSid, occurredAt: receivedAt, payload: params }];
  }
  if (messageSid) return [];
  throw new BadRequestError('not a Twilio call or message webhook: no CallSid or MessageSid parameter');
}
