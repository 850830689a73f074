import nock from 'nock';
import { describe, expect, it } from 'vitest';
import twilio from '../../src/connectors/twilio/index.js';
import { basicAuth, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';

const API = 'https://api.twilio.com';
const SID = 'ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const CALLS = `/2010-04-01/Accounts/${SID}/Calls.json`;
const AUTH = basicAuth(SID, 'twilio-test-token');

const context = () =>
  memoryConnectorContext({
    secrets: { account_sid: SID, auth_token: 'twilio-test-token', from_number: '+15558675310' },
    apiUrl: API,
  }).context;

/** A Call resource as the REST API documents it. */
function call(sid: string, status: string, start: string, end: string | null, direction = 'inbound') {
  return {
    account_sid: SID,
    answered_by: null,
    api_version: '2010-04-01',
    caller_name: null,
    date_created: start,
    date_updated: end ?? start,
    direction,
    duration: status === 'completed' ? '15' : '0',
    end_time: end,
    forwarded_from: null,
    from: '+14158675308',
    from_formatted: '(415) 867-5308',
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: 'PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    price: '-0.03000',
    price_unit: 'USD',
    sid,
    start_time: start,
    status,
    to: '+14158675309',
    to_formatted: '(415) 867-5309',
    trunk_sid: null,
    uri: `/2010-04-01/Accounts/${SID}/Calls/${sid}.json`,
    queue_time: '0',
  };
}

const page = (calls: unknown[], next: string | null) => ({
  calls,
  first_page_uri: `${CALLS}?PageSize=2&Page=0`,
  next_page_uri: next,
  page: 0,
  page_size: 2,
  previous_page_uri: null,
  start: 0,
  end: calls.length - 1,
  uri: `${CALLS}?PageSize=2&Page=0`,
});

const calls = twilio.pull!.calls!;

useNock();

describe('twilio calls pull', () => {
  it('follows next_page_uri, waits out a 429, emits finished calls only and resumes from the newest start day', async () => {
    const next = `${CALLS}?PageSize=2&StartTime%3E%3D=2024-01-01&Page=1&PageToken=PACAcccc`;
    nock(API, { reqheaders: { authorization: AUTH } })
      .get(CALLS)
      .query({ PageSize: '2', 'StartTime>=': '2024-01-01' })
      .reply(429, { code: 20429, message: 'Too Many Requests' }, { 'Retry-After': '0' })
      .get(CALLS)
      .query({ PageSize: '2', 'StartTime>=': '2024-01-01' })
      .reply(
        200,
        page(
          [
            call('CA0000000000000000000000000000003', 'in-progress', 'Wed, 03 Jan 2024 09:00:00 +0000', null),
            call(
              'CA0000000000000000000000000000002',
              'completed',
              'Tue, 02 Jan 2024 10:00:00 +0000',
              'Tue, 02 Jan 2024 10:00:15 +0000',
            ),
          ],
          next,
        ),
      );

    const first = await calls.list(context(), null, { since: new Date('2024-01-01T12:00:00Z'), pageSize: 2 });
    expect(first.events).toEqual([
      {
        type: 'call.completed',
        externalId: 'CA0000000000000000000000000000002:completed',
        occurredAt: '2024-01-02T10:00:15.000Z',
        payload: {
          CallSid: 'CA0000000000000000000000000000002',
          AccountSid: SID,
          From: '+14158675308',
          To: '+14158675309',
          CallStatus: 'completed',
          Direction: 'inbound',
          CallDuration: '15',
          Timestamp: 'Tue, 02 Jan 2024 10:00:15 +0000',
          ApiVersion: '2010-04-01',
        },
      },
    ]);
    expect(first.nextCursor).toEqual({ next, newest: '2024-01-03T09:00:00.000Z' });

    nock(API, { reqheaders: { authorization: AUTH } })
      .get(CALLS)
      .query({ PageSize: '2', 'StartTime>=': '2024-01-01', Page: '1', PageToken: 'PACAcccc' })
      .reply(
        200,
        page(
          [
            call(
              'CA0000000000000000000000000000001',
              'no-answer',
              'Mon, 01 Jan 2024 18:00:00 +0000',
              'Mon, 01 Jan 2024 18:00:30 +0000',
              'outbound-api',
            ),
          ],
          null,
        ),
      );
    const last = await calls.list(context(), first.nextCursor, { pageSize: 2 });
    expect(last.events.map((event) => [event.type, event.externalId])).toEqual([
      ['call.missed', 'CA0000000000000000000000000000001:no-answer'],
    ]);
    expect(last.nextCursor).toBeNull();
    expect(last.resumeCursor).toEqual({ since: '2024-01-03' });
  });

  it('resumes from a stored day cursor with the same ids as the status callbacks', async () => {
    nock(API)
      .get(CALLS)
      .query({ PageSize: '50', 'StartTime>=': '2024-01-03' })
      .reply(
        200,
        page(
          [
            call(
              'CA0000000000000000000000000000003',
              'busy',
              'Wed, 03 Jan 2024 09:00:00 +0000',
              'Wed, 03 Jan 2024 09:00:05 +0000',
            ),
          ],
          null,
        ),
      );
    const result = await calls.list(context(), { since: '2024-01-03' }, { pageSize: 50 });
    expect(result.events.map((event) => event.externalId)).toEqual(['CA0000000000000000000000000000003:busy']);
    expect(result).toMatchObject({ nextCursor: null, resumeCursor: { since: '2024-01-03' } });
  });
});
