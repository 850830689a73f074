import { describe, expect, it } from 'vitest';
import twilio from '../../src/connectors/twilio/index.js';
import { fixtureJson, mapToRecord } from '../helpers/vendor-api.js';

type Params = Record<string, string>;
const SMS: Params = fixtureJson('twilio', 'incoming_sms.json');
const OCCURRED = '2023-01-10T18:24:32.000Z';

const map = (type: string, payload: Params, externalId: string) =>
  mapToRecord(twilio, type, externalId, payload, OCCURRED);

describe('twilio default mappings', () => {
  it('ships the shared SMS fixture, unchanged, as the message sample', () => {
    expect(twilio.events['message.received']!.sample).toEqual(SMS);
  });

  it('maps an incoming SMS to the sender and a message timeline entry', async () => {
    const record = await map('message.received', SMS, 'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(record).toEqual({
      phone: '+15017122661',
      country: 'US',
      attributes: {},
      timeline: {
        type: 'message.received',
        external_id: 'message/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        occurred_at: OCCURRED,
        summary: 'SMS from +15017122661: Ahoy',
        data: {
          message_sid: 'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
          channel: 'sms',
          direction: 'inbound',
          status: 'received',
          body: 'Ahoy',
          from: '+15017122661',
          to: '+15558675310',
          num_media: 0,
          media: [],
        },
      },
    });
  });

  it.each(['STOP', ' unsubscribe ', 'Stop'])('marks %j as an opt-out', async (body) => {
    expect((await map('message.received', { ...SMS, Body: body }, 'SM1')).attributes).toEqual({ opt_out: true });
  });

  it('marks START as an opt-in and leaves ordinary texts without opt_out', async () => {
    expect((await map('message.received', { ...SMS, Body: 'start' }, 'SM1')).attributes).toEqual({ opt_out: false });
    expect((await map('message.received', { ...SMS, Body: 'Please stop by tomorrow' }, 'SM1')).attributes).toEqual({});
  });

  it('strips whatsapp: from the sender and keeps media URLs', async () => {
    const whatsapp = {
      ...SMS,
      From: 'whatsapp:+14155238886',
      WaId: '14155238886',
      ProfileName: 'Ana',
      NumMedia: '1',
      MediaUrl0: 'https://api.twilio.com/media/ME1',
    };
    const record = await map('message.received', whatsapp, 'SM2');
    expect(record).toMatchObject({ phone: '+14155238886', name: 'Ana' });
    expect(record.timeline).toMatchObject({
      summary: 'WhatsApp from +14155238886: Ahoy',
      data: { num_media: 1, media: ['https://api.twilio.com/media/ME1'] },
    });
  });

  it('maps a completed inbound call to the caller with its duration', async () => {
    const record = await map(
      'call.completed',
      twilio.events['call.completed']!.sample as Params,
      'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:completed',
    );
    expect(record).toEqual({
      phone: '+15017122661',
      country: 'US',
      timeline: {
        type: 'call.completed',
        external_id: 'call/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        occurred_at: OCCURRED,
        summary: 'Inbound call, 42 s',
        data: {
          call_sid: 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
          direction: 'inbound',
          status: 'completed',
          duration: 42,
          from: '+15017122661',
          to: '+15558675310',
        },
      },
    });
  });

  it('maps an unanswered outbound-api call to the called party', async () => {
    const record = await map(
      'call.missed',
      twilio.events['call.missed']!.sample as Params,
      'CAcccccccccccccccccccccccccccccccc:no-answer',
    );
    expect(record).toMatchObject({
      phone: '+15017122661',
      timeline: {
        type: 'call.missed',
        external_id: 'call/CAcccccccccccccccccccccccccccccccc',
        summary: 'Outbound call: no-answer',
        data: { direction: 'outbound-api', duration: 0 },
      },
    });
  });

  it("gives no phone for Twilio's withheld-caller-ID stand-ins or client/SIP endpoints", async () => {
    const sample = twilio.events['call.completed']!.sample as Params;
    expect((await map('call.completed', { ...sample, From: '+266696687' }, 'CA1:completed')).phone).toBeNull();
    expect((await map('call.completed', { ...sample, From: 'client:alice' }, 'CA1:completed')).phone).toBeNull();
  });
});
