import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = new URL('../.ci/audit.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'crmflow-audit-'));

/** Runs the CI audit judge on a saved `npm audit --json` answer; returns its exit code and output. */
function judge(report: unknown, allow: Record<string, string> = {}): { code: number; out: string } {
  const reportPath = join(dir, `report-${Math.random()}.json`);
  const allowPath = join(dir, `allow-${Math.random()}.json`);
  writeFileSync(reportPath, typeof report === 'string' ? report : JSON.stringify(report));
  writeFileSync(allowPath, JSON.stringify(allow));
  try {
    return {
      code: 0,
      out: execFileSync('node', [SCRIPT, '--report', reportPath, '--allow', allowPath], { encoding: 'utf8' }),
    };
  } catch (error) {
    const failure = error as { status: number; stdout: string };
    return { code: failure.status, out: failure.stdout };
  }
}

/** npm audit's answer with one advisory (shaped as npm 10 prints it). */
const withAdvisory = (severity: string) => ({
  auditReportVersion: 2,
  vulnerabilities: {
    'fast-xml-parser': {
      name: 'fast-xml-parser',
      severity,
      isDirect: false,
      via: [
        {
          source: 1096598,
          name: 'fast-xml-parser',
          title: 'Prototype pollution',
          url: 'https://github.com/advisories/GHSA-x3cc-x39p-42qx',
          severity,
          range: '<4.2.4',
        },
      ],
      effects: [],
      range: '<4.2.4',
      fixAvailable: true,
    },
  },
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 0, high: severity === 'high' ? 1 : 0, critical: 0, total: 1 },
  },
});

describe('CI judges npm audit of production dependencies', () => {
  it('fails on a high advisory, names it, and passes once its unreachability is written down', () => {
    const failing = judge(withAdvisory('high'));
    expect(failing.code).toBe(1);
    expect(failing.out).toContain('high GHSA-x3cc-x39p-42qx in fast-xml-parser');
    const allowed = judge(withAdvisory('high'), {
      'GHSA-x3cc-x39p-42qx': 'only the XML builder is used, never the parser',
    });
    expect(allowed.code).toBe(0);
    expect(allowed.out).toContain('allowed: only the XML builder is used');
  });

  it('passes on moderate advisories and on a clean report', () => {
    expect(judge(withAdvisory('moderate')).code).toBe(0);
    expect(
      judge({ auditReportVersion: 2, vulnerabilities: {}, metadata: { vulnerabilities: { total: 0 } } }).out,
    ).toContain('no high or critical advisory');
  });

  it('does not fail when the advisory service does not answer, and says why', () => {
    const refused = judge({
      message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
      error: { summary: '' },
    });
    expect(refused.code).toBe(0);
    expect(refused.out).toMatch(
      /advisory service did not answer \(405 Method Not Allowed.*\); production dependencies NOT judged/,
    );
    const offline = judge('npm error code ENOTFOUND\nnpm error getaddrinfo ENOTFOUND registry.npmjs.org');
    expect(offline.code).toBe(0);
    expect(offline.out).toContain('did not answer (npm error code ENOTFOUND)');
  });
});
