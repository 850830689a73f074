import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { connectors } from '../src/connectors/registry.js';
import {
  connectorCasesPath,
  loadMappingCases,
  runMappingCase,
  runMappingCases,
  type MappingCase,
} from '../src/workflows/mapping-cases.js';
import { writeConfig } from './helpers/crmflow.js';

const BIN = fileURLToPath(new URL('../bin/crmflow.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../workflows.yaml', import.meta.url));
const ENV = {};

describe('mapping cases shipped with the connectors and the example workflows.yaml', () => {
  for (const loaded of loadMappingCases({ configPath: EXAMPLE, env: ENV })) {
    it(`${loaded.name} (${loaded.source})`, async () => {
      const result = await runMappingCase(loaded);
      expect(result.differences).toEqual([]);
      expect(result.ok).toBe(true);
    });
  }

  for (const connector of connectors.values()) {
    it(`connector ${connector.id} has a case for every event type`, () => {
      const cases = parse(readFileSync(connectorCasesPath(connector.id), 'utf8')) as MappingCase[];
      const covered = new Set(cases.filter((spec) => spec.connector === connector.id).map((spec) => spec.event));
      expect(Object.keys(connector.events).filter((type) => !covered.has(type))).toEqual([]);
    });
  }
});

/** A workflows file holding only `mapping_tests`; returns its path. */
function casesFile(cases: unknown[], extra = ''): string {
  return writeConfig(`version: 1\n${extra}mapping_tests: ${JSON.stringify(cases)}\n`);
}

/** Runs only the cases of `path` (the connectors' own cases are not the subject here). */
async function resultsOf(path: string) {
  const results = await runMappingCases({ configPath: path, env: ENV });
  return results.filter((result) => result.source.includes('workflows.yaml'));
}

describe('the mapping case runner', () => {
  const lead = { submission_id: 'f-1', name: 'Maria Garcia', email: 'maria@example.com' };

  it('fails a wrong expectation with a difference naming the field, and reports the line', async () => {
    const path = writeConfig(
      [
        'version: 1',
        'mapping_tests:',
        '  - name: right',
        '    connector: form',
        '    event: lead.submitted',
        `    input: ${JSON.stringify(lead)}`,
        '    expect: { first_name: Maria, timeline: { external_id: submission/test } }',
        '  - name: wrong',
        '    connector: form',
        '    event: lead.submitted',
        `    input: ${JSON.stringify(lead)}`,
        '    expect: { last_name: Smith, email: [maria@example.com], timeline: { type: lead.submitted, summary: nope } }',
        '',
      ].join('\n'),
    );
    const [right, wrong] = await resultsOf(path);
    expect(right).toMatchObject({ name: 'right', ok: true, differences: [] });
    expect(wrong!.ok).toBe(false);
    expect(wrong!.source).toMatch(/workflows\.yaml:8$/);
    expect(wrong!.differences).toEqual([
      'last_name: expected "Smith", got "Garcia"',
      'email: expected ["maria@example.com"], got "maria@example.com"',
      'timeline.summary: expected "nope", got "Lead form"',
    ]);
  });

  it('reports a missing input file clearly, relative to the YAML file', async () => {
    const path = casesFile([
      {
        name: 'no file',
        connector: 'form',
        event: 'lead.submitted',
        input: { file: 'samples/missing.json' },
        expect: {},
      },
    ]);
    const [result] = await resultsOf(path);
    expect(result!.ok).toBe(false);
    expect(result!.differences).toEqual([
      `input file samples/missing.json not found (looked for ${join(dirname(path), 'samples/missing.json')})`,
    ]);
  });

  it('reads input files relative to the YAML file, and tests `expr` instead of the mapping', async () => {
    const path = casesFile([
      {
        name: 'expr on a file',
        connector: 'form',
        event: 'lead.submitted',
        input: { file: 'lead.json' },
        expr: '{ "email": $lowercase(email) }',
        expect: { email: 'x@y.io' },
      },
    ]);
    writeFileSync(join(dirname(path), 'lead.json'), JSON.stringify({ email: 'X@Y.io' }));
    expect(await resultsOf(path)).toEqual([
      { name: 'expr on a file', source: expect.stringMatching(/workflows\.yaml:\d+$/), ok: true, differences: [] },
    ]);
  });

  it("uses the configured mapping override of the case's connector and event", async () => {
    const override =
      'connectors:\n  form:\n    secrets: { webhook_secret: x }\n    mappings:\n      lead.submitted: \'{ "email": email, "attributes": { "from": "override" } }\'\n';
    const path = casesFile(
      [
        {
          name: 'override',
          connector: 'form',
          event: 'lead.submitted',
          input: lead,
          expect: { attributes: { from: 'override' } },
        },
      ],
      override,
    );
    expect((await resultsOf(path))[0]).toMatchObject({ ok: true });
  });

  it('fails cases naming an unknown event, and mappings that throw', async () => {
    const path = casesFile([
      { name: 'unknown event', connector: 'form', event: 'lead.created', input: {}, expect: {} },
      { name: 'throws', connector: 'form', event: 'lead.submitted', input: {}, expr: '$error("boom")', expect: {} },
    ]);
    const [unknown, throws] = await resultsOf(path);
    expect(unknown!.differences).toEqual(['connector form has no event "lead.created"; it has: lead.submitted']);
    expect(throws!.differences[0]).toMatch(/^mapping failed: .*boom/);
  });

  it('rejects a malformed case at load with file:line:col, like validate', () => {
    const path = writeConfig(
      'version: 1\nmapping_tests:\n  - name: no expect\n    connector: form\n    event: lead.submitted\n    input: {}\n',
    );
    const { status, stderr } = spawnSync(process.execPath, [BIN, 'test', path], { encoding: 'utf8' });
    expect(status).toBe(1);
    expect(stderr).toContain('workflows.yaml:3:5 missing field `expect`');
  });

  it('`crmflow test` prints each case and exits 1 when one fails', () => {
    const path = casesFile([
      { name: 'passes', connector: 'form', event: 'lead.submitted', input: lead, expect: { name: 'Maria Garcia' } },
      { name: 'fails', connector: 'form', event: 'lead.submitted', input: lead, expect: { name: 'Mario' } },
    ]);
    const { status, stdout } = spawnSync(process.execPath, [BIN, 'test', path], { encoding: 'utf8' });
    expect(status).toBe(1);
    expect(stdout).toMatch(/^ok {3}passes$/m);
    expect(stdout).toMatch(
      /^FAIL fails {2}\(.*workflows\.yaml:\d+\)\n {7}name: expected "Mario", got "Maria Garcia"$/m,
    );
    expect(stdout).toMatch(/^\d+ passed, 1 failed$/m);
  });

  it('`crmflow test` exits 0 when every case passes', () => {
    const path = casesFile([
      {
        name: 'passes',
        connector: 'form',
        event: 'lead.submitted',
        input: lead,
        expect: { email: 'maria@example.com' },
      },
    ]);
    const { status, stdout } = spawnSync(process.execPath, [BIN, 'test', path], { encoding: 'utf8' });
    expect(status).toBe(0);
    expect(stdout).toMatch(/^\d+ passed, 0 failed$/m);
  });
});
