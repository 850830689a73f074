import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { ParsedEvent } from '../../src/connectors/define-connector.js';
import meta from '../../src/connectors/meta/index.js';
import { parseDelivery } from '../../src/connectors/meta/webhook.js';
import { recordErrors, validateRecord } from '../../src/engine/steps/record-schema.js';
import { compileExpression } from '../../src/workflows/expression.js';
import { fixtureJson } from '../helpers/vendor-api.js';

const json = (url: URL) => JSON.parse(readFileSync(url, 'utf8')) as unknown;
const fixture = (file: string) => fixtureJson('meta', file) as unknown;

const spec = meta.events['message.received']!;
const mapping = compileExpression(spec.mapping);

async function mapEvent(event: ParsedEvent): Promise<Record<string, unknown>> {
  const record = (await mapping.evaluate(event.payload, {
    event: { connector: 'meta', type: event.type, external_id: event.externalId, occurred_at: event.occurredAt },
  })) as Record<string, unknown>;
  expect(validateRecord(record), recordErrors()).toBe(true);
  return record;
}

describe('meta message.received default mapping', () => {
  it('maps the WhatsApp sample to the contact name, a "+" phone and a timeline entry', async () => {
    const [event] = parseDelivery(fixture('whatsapp_text_message.json'));
    expect(await mapEvent(event!)).toEqual({
      name: 'Sheena Nelson',
      phone: '+16505551234',
      identities: [],
      attributes: { last_message_channel: 'whatsapp' },
      timeline: {
        type: 'message.received',
        external_id: 'message/wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
        occurred_at: '2025-06-08T20:59:43.000Z',
        summary: 'Does it come in another color?',
        data: {
          channel: 'whatsapp',
          account_id: '106540352242922',
          message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
          type: 'text',
          text: 'Does it come in another color?',
        },
      },
    });
  });

  it('maps a Messenger message to a Page-scoped messenger_psid identity', async () => {
    const event = fixture('messenger_text_message_event.json') as Record<string, unknown>;
    const message = { ...event, sender: { id: '6945284213287045' }, recipient: { id: '104578132315417' } };
    const [parsed] = parseDelivery({
      object: 'page',
      entry: [{ id: '104578132315417', time: 1458692752600, messaging: [message] }],
    });
    expect(await mapEvent(parsed!)).toMatchObject({
      name: null,
      phone: null,
      identities: [{ kind: 'messenger_psid', value: '104578132315417:6945284213287045' }],
      attributes: { last_message_channel: 'messenger' },
      timeline: {
        type: 'message.received',
        external_id: 'message/mid.1457764197618:41d102a3e1ae206a38',
        occurred_at: '2016-03-23T00:25:52.478Z',
        summary: 'hello, world!',
      },
    });
  });

  it('maps the Instagram sample to an account-scoped instagram_igsid identity', async () => {
    const [event] = parseDelivery(
      json(new URL('../../src/connectors/meta/samples/instagram_text_message.json', import.meta.url)),
    );
    expect(await mapEvent(event!)).toMatchObject({
      identities: [{ kind: 'instagram_igsid', value: '17841405309211844:1253948651987631' }],
      timeline: {
        external_id: `message/${event!.externalId}`,
        occurred_at: '2025-06-08T20:59:49.507Z',
        summary: 'Hi! Is the blue one still available in size M?',
      },
    });
  });

  it('summarizes a message without text by its type', async () => {
    const [event] = parseDelivery({
      object: 'page',
      entry: [
        {
          id: '1',
          time: 1,
          messaging: [
            {
              sender: { id: '2' },
              recipient: { id: '1' },
              timestamp: 1749416399000,
              message: { mid: 'm_1', attachments: [{ type: 'audio' }] },
            },
          ],
        },
      ],
    });
    expect(await mapEvent(event!)).toMatchObject({
      timeline: { summary: '(audio)', data: { type: 'audio', text: null } },
    });
  });

  it("declares the parser's payload of the WhatsApp sample as the event sample", async () => {
    const [event] = parseDelivery(fixture('whatsapp_text_message.json'));
    expect(spec.sample).toEqual(event!.payload);
  });
});
