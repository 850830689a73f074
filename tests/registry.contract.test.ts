import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { connectors } from '../src/connectors/registry.js';
import { steps } from '../src/engine/steps/registry.js';
import { triggers } from '../src/engine/triggers/registry.js';
import { validateRecord } from '../src/engine/steps/record-schema.js';
import { ajv } from '../src/workflows/ajv.js';
import { compileExpression } from '../src/workflows/expression.js';
import { loadConfigText } from '../src/workflows/load.js';
import { editorSchema } from '../src/workflows/schema.js';
import { stringify } from 'yaml';

const ENV = { FORM_WEBHOOK_SECRET: 'x', SHOPIFY_WEBHOOK_SECRET: 'x' };

function workflowWith(
  step: Record<string, unknown>,
  trigger: Record<string, unknown> = { type: 'webhook', connector: 'form', event: 'lead.submitted' },
) {
  return stringify({
    connectors: { form: { secrets: { webhook_secret: 'x' } }, shopify: { secrets: { webhook_secret: 'x' } } },
    agents: [{ id: 'ann', name: 'Ann' }],
    pools: { sales: { agents: ['ann'] } },
    business_hours: { support: { time_zone: 'Europe/Madrid', open: { 'mon-fri': '09:00-18:00' } } },
    quiet_hours: {
      night: { from: '21:00', to: '08:00', time_zone: 'customer', default_time_zone: 'America/New_York' },
    },
    pipelines: {
      sales: {
        currency: 'USD',
        stages: [
          { id: 'new', probability: 0.1 },
          { id: 'cart', probability: 0.3 },
          { id: 'quote', probability: 0.5 },
          { id: 'won', won: true },
          { id: 'lost', lost: true },
        ],
      },
    },
    workflows: [{ id: 'example', trigger, steps: [step] }],
  });
}

describe('every registered step, trigger and connector honours its contract', () => {
  for (const step of steps.values()) {
    it(`step ${step.type}: every example lints clean`, () => {
      expect(step.examples.length).toBeGreaterThan(0);
      for (const example of step.examples)
        expect(() =>
          loadConfigText(workflowWith({ type: step.type, ...example }), 'example.yaml', { env: ENV }),
        ).not.toThrow();
    });
  }

  for (const trigger of triggers.values()) {
    it(`trigger ${trigger.type}: every example lints clean`, () => {
      for (const example of trigger.examples) {
        expect(() =>
          loadConfigText(
            workflowWith({ type: 'log', message: 'x' }, { type: trigger.type, ...example }),
            'example.yaml',
            { env: ENV },
          ),
        ).not.toThrow();
      }
    });
  }

  for (const connector of connectors.values()) {
    describe(`connector ${connector.id}`, () => {
      it('verifies webhook signatures (or says why not) and parses deliveries', () => {
        expect(connector.id).toMatch(/^[a-z]+$/);
        if (connector.webhook) {
          expect(Boolean(connector.webhook.verify) !== Boolean(connector.webhook.unsigned)).toBe(true);
          expect(typeof connector.webhook.parse).toBe('function');
        }
      });

      for (const [type, event] of Object.entries(connector.events)) {
        it(`maps its ${type} sample into a valid unified record with an identity`, async () => {
          expect(type).toMatch(/^[a-z_]+\.[a-z_]+$/);
          expect(event.sample).toBeTruthy();
          const record = (await compileExpression(event.mapping).evaluate(event.sample, {
            event: { connector: connector.id, type, external_id: 'sample', occurred_at: '2026-01-01T00:00:00Z' },
          })) as Record<string, unknown>;
          expect(validateRecord(record), JSON.stringify(validateRecord.errors)).toBe(true);
          const identities = [record.email, record.phone, record.identities]
            .flat()
            .filter((value) => value !== null && value !== undefined);
          expect(identities.length).toBeGreaterThan(0);
        });
      }
    });
  }

  it('the committed workflows.schema.json is what `crmflow schema` prints (regenerate: crmflow schema > workflows.schema.json)', () => {
    const committed = readFileSync(new URL('../workflows.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(`${JSON.stringify(editorSchema(), null, 2)}\n`);
    expect(readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./workflows.schema.json',
    );
  });

  it('the editor schema compiles and accepts the shipped workflows.yaml', () => {
    const validate = ajv.compile(editorSchema());
    const example = parse(readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8'));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    const misspelt = structuredClone(example);
    misspelt.workflows[0].steps[0].type = 'mapp';
    expect(validate(misspelt)).toBe(false);
  });
});
