import { createHash } from 'node:crypto';
import { defineConnector } from '../define-connector.js';
import { parseJsonOrFormBody } from '../shared/body.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { verifyHmacSha256 } from '../shared/hmac.js';

const SIGNATURE_PREFIX = 'sha256=';

/**
 * A website lead form posting to crmflow. The site signs the exact body it sends:
 * `X-Crmflow-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
 */
export default defineConnector({
  id: 'form',
  family: 'forms',
  summary: 'Website lead forms (JSON or urlencoded), signed with a shared secret.',
  secrets: {
    webhook_secret: {
      description: 'Shared secret the website signs each post with; comma-separate two while rotating.',
      env: {
        name: 'FORM_WEBHOOK_SECRET',
        demo: 'demo-form-secret',
        description: 'Shared secret your website uses to sign lead-form posts (`X-Crmflow-Signature`).',
      },
    },
  },
  webhook: {
    signature: { name: 'X-Crmflow-Signature', description: '`sha256=<hex HMAC-SHA256 of the body>`.' },
    verify: (request, secrets) => {
      const header = request.headers['x-crmflow-signature'];
      if (!header?.startsWith(SIGNATURE_PREFIX)) return false;
      return verifyHmacSha256(secrets.webhook_secret, request.rawBody, header.slice(SIGNATURE_PREFIX.length), 'hex');
    },
    parse: (request) => {
      const payload = parseJsonOrFormBody(request.rawBody, request.headers['content-type']);
      // Identity only from what the signature covers: an unsigned header (the former X-Crmflow-Event-Id) would let a
      // captured body be replayed as a new event each time. Without an id, identical bodies are the same submission.
      const id = payload.submission_id ?? payload.id;
      const externalId =
        id !== undefined && id !== '' ? String(id) : createHash('sha256').update(request.rawBody).digest('hex');
      const submittedAt = typeof payload.submitted_at === 'string' ? payload.submitted_at : new Date().toISOString();
      return [{ type: 'lead.submitted', externalId, occurredAt: submittedAt, payload }];
    },
  },
  events: {
    'lead.submitted': {
      summary: 'A visitor submitted a lead form.',
      mapping: readBeside(import.meta.url, 'mappings/lead.jsonata'),
      sample: readJsonBeside(import.meta.url, 'samples/lead_submitted.json'),
    },
  },
});
