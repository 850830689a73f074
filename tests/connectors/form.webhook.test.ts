import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import form from '../../src/connectors/form/index.js';
import { BadRequestError } from '../../src/connectors/define-connector.js';
import { webhookRequest } from '../helpers/vendor-api.js';

const SECRETS = { webhook_secret: 'form-secret-7c1d' };
const webhook = form.webhook!;
const hex = (body: string) => createHmac('sha256', SECRETS.webhook_secret).update(body).digest('hex');
const LEAD = JSON.stringify({ submission_id: 'f-9', name: 'Maria Garcia', email: 'maria@example.com' });

describe('form webhook', () => {
  it('accepts the hex signature in upper case as well as lower case', () => {
    for (const signature of [hex(LEAD), hex(LEAD).toUpperCase()]) {
      expect(
        webhook.verify!(
          webhookRequest('form', LEAD, {
            'content-type': 'application/json',
            'x-crmflow-signature': `sha256=${signature}`,
          }),
          SECRETS,
        ),
      ).toBe(true);
    }
    const wrong = hex(`${LEAD} `).toUpperCase();
    expect(webhook.verify!(webhookRequest('form', LEAD, { 'x-crmflow-signature': `sha256=${wrong}` }), SECRETS)).toBe(
      false,
    );
  });

  it('reads a JSON body sent without a Content-Type, or with curl -d’s urlencoded default, as JSON', () => {
    for (const contentType of [undefined, 'application/x-www-form-urlencoded']) {
      const [event] = webhook.parse(webhookRequest('form', `\n ${LEAD}`, { 'content-type': contentType }), SECRETS);
      expect(event).toMatchObject({
        type: 'lead.submitted',
        externalId: 'f-9',
        payload: { name: 'Maria Garcia', email: 'maria@example.com' },
      });
    }
  });

  it('still reads urlencoded fields, and refuses a JSON-looking body that is not JSON', () => {
    const [event] = webhook.parse(
      webhookRequest('form', 'submission_id=u-1&name=Una+Form', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      SECRETS,
    );
    expect(event!.payload).toEqual({ submission_id: 'u-1', name: 'Una Form' });
    expect(() => webhook.parse(webhookRequest('form', '{"name": "half', {}), SECRETS)).toThrow(BadRequestError);
    expect(() => webhook.parse(webhookRequest('form', 'a=1', { 'content-type': 'text/plain' }), SECRETS)).toThrow(
      /unsupported content type/,
    );
  });
});
