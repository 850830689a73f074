import type { ConnectorContext, ParsedEvent, PullPage } from '../define-connector.js';
import { twilioClient, type TwilioSecrets } from './client.js';
import { callEvents, rfc2822ToIso, type TwilioParams } from './events.js';

/** A Call resource as the REST API lists it (the fields crmflow reads). */
export interface TwilioCall {
  sid: string;
  account_sid: string;
  from: string;
  to: string;
  status: string;
  direction: string;
  duration: string | null;
  start_time: string | null;
  end_time: string | null;
  parent_call_sid: string | null;
  caller_name: string | null;
  forwarded_from: string | null;
  api_version: string;
}

interface CallsPage {
  calls: TwilioCall[];
  next_page_uri: string | null;
}

/**
 * Mid-run, the `next_page_uri` Twilio returned and the newest start time seen so far; between runs, the UTC day to
 * start from (`StartTime>=` takes a date, so calls of that day are re-read and de-duplicated by the inbox).
 */
export type CallsCursor = { next: string; newest: string | null } | { since: string };

/** A pulled call in the shape of a status callback, so pulled and pushed calls share ids and the mapping. */
export function callParams(call: TwilioCall): TwilioParams {
  const params: Record<string, string | null> = {
    CallSid: call.sid,
    AccountSid: call.account_sid,
    From: call.from,
    To: call.to,
    CallStatus: call.status,
    Direction: call.direction,
    CallDuration: call.duration,
    Timestamp: call.end_time ?? call.start_time,
    ParentCallSid: call.parent_call_sid,
    CallerName: call.caller_name,
    ForwardedFrom: call.forwarded_from,
    ApiVersion: call.api_version,
  };
  return Object.fromEntries(
    Object.entries(params).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
    ),
  );
}

function readCursor(cursor: unknown): CallsCursor | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const value = cursor as Partial<{ next: unknown; newest: unknown; since: unknown }>;
  if (typeof value.next === 'string')
    return { next: value.next, newest: typeof value.newest === 'string' ? value.newest : null };
  if (typeof value.since === 'string') return { since: value.since };
  throw new Error(`twilio calls: unreadable cursor ${JSON.stringify(cursor)}`);
}

/** Calls newest first, following `next_page_uri`; only finished calls become events (call.completed / call.missed). */
export async function listCalls(
  context: ConnectorContext<TwilioSecrets>,
  cursor: unknown,
  options: { since?: Date; pageSize: number },
): Promise<PullPage> {
  const { client, accountPath, auth } = twilioClient(context);
  const at = readCursor(cursor);
  let url: string;
  let newest: string | null = null;
  if (at && 'next' in at) {
    url = at.next;
    newest = at.newest;
  } else {
    const since = at?.since ?? options.since?.toISOString().slice(0, 10);
    const query = new URLSearchParams({
      PageSize: String(options.pageSize),
      ...(since ? { 'StartTime>=': since } : {}),
    });
    url = `${accountPath}/Calls.json?${query}`;
  }
  const { data } = await client.request<CallsPage>({ url, auth, signal: context.signal });
  const receivedAt = new Date().toISOString();
  const events: ParsedEvent[] = data.calls.flatMap((call) => callEvents(callParams(call), receivedAt));
  for (const call of data.calls) {
    const started = rfc2822ToIso(call.start_time);
    if (started && (!newest || started > newest)) newest = started;
  }
  if (data.next_page_uri) return { events, nextCursor: { next: data.next_page_uri, newest } satisfies CallsCursor };
  const since = newest?.slice(0, 10) ?? (at && 'since' in at ? at.since : options.since?.toISOString().slice(0, 10));
  return { events, nextCursor: null, resumeCursor: since ? ({ since } satisfies CallsCursor) : null };
}
