import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { connectors as connectorRegistry } from '../connectors/registry.js';
import type { Env } from '../config/env.js';
import { ajv } from './ajv.js';
import type { CrmflowConfig } from './config-types.js';
import { compileExpression, DEFAULT_LIMITS } from './expression.js';
import { loadConfigFile } from './load.js';
import { MAPPING_CASE_SCHEMA } from './schema.js';

/**
 * A mapping test: a vendor payload and the record fields its mapping must produce. Connectors ship theirs in
 * `src/connectors/<id>/mapping-cases.yaml` (testing the default mappings); admins add theirs to workflows.yaml under
 * `mapping_tests` (testing `connectors.<id>.mappings.<event>` where set, else the default).
 */
export interface MappingCase {
  name: string;
  connector: string;
  event: string;
  /** The payload inline, `{ file: <JSON path relative to the YAML file> }`, or `{ sample: true }` (the event's declared sample). */
  input: Record<string, unknown>;
  /** Objects are compared field by field (fields not given are not checked); arrays and values must be equal. */
  expect: Record<string, unknown>;
  /** JSONata to test instead of the configured or default mapping. */
  expr?: string;
}

export interface MappingCaseResult {
  name: string;
  /** `file:line` of the case. */
  source: string;
  ok: boolean;
  /** Why it failed, one line each, naming the field (`timeline.external_id: expected "a", got "b"`). */
  differences: string[];
}

/** A case read from its file, ready to run; `problems` (bad shape, unknown event...) make it fail without running. */
export interface LoadedMappingCase {
  name: string;
  source: string;
  problems: string[];
  spec?: MappingCase;
  /** Folder that `input.file` is relative to. */
  dir: string;
  /** The mapping overrides of the file the case comes from (`connectors.<id>.mappings` of workflows.yaml). */
  overrides: Readonly<Record<string, Readonly<Record<string, string>> | undefined>>;
}

export interface LoadMappingCasesOptions {
  /** workflows.yaml whose `mapping_tests` run too; without it only the connectors' cases load. */
  configPath?: string;
  env: Env;
}

/** The event every case is mapped under: `$event` is fixed so expectations on it are stable. */
export const CASE_EVENT = { external_id: 'test', occurred_at: '2026-01-01T00:00:00.000Z' } as const;

const CASES_FILE = 'mapping-cases.yaml';
const validateCase = ajv.compile<MappingCase>(MAPPING_CASE_SCHEMA);

/** Where connector `id` keeps its cases. */
export function connectorCasesPath(id: string): string {
  return fileURLToPath(new URL(`../connectors/${id}/${CASES_FILE}`, import.meta.url));
}

/**
 * Loads every connector's cases, then the config's `mapping_tests`. The config is loaded and validated as the engine
 * loads it (a broken file throws `ConfigError`), except that secrets are not needed: unset ones take their demo values.
 */
export function loadMappingCases(options: LoadMappingCasesOptions): LoadedMappingCase[] {
  const cases: LoadedMappingCase[] = [];
  for (const id of connectorRegistry.keys()) {
    const path = connectorCasesPath(id);
    if (existsSync(path)) cases.push(...casesFromFile(path));
  }
  if (options.configPath !== undefined) {
    const loaded = loadConfigFile(options.configPath, { env: { ...options.env, NODE_ENV: undefined } });
    const config = loaded.config as CrmflowConfig & { mapping_tests?: MappingCase[] };
    const overrides = Object.fromEntries(
      Object.entries(config.connectors).map(([id, connector]) => [id, connector.mappings]),
    );
    const lines = caseLines(readFileSync(options.configPath, 'utf8'), ['mapping_tests']);
    (config.mapping_tests ?? []).forEach((spec, i) => {
      cases.push(
        prepare(
          spec,
          `${display(options.configPath!)}:${lines[i] ?? 1}`,
          dirname(resolve(options.configPath!)),
          overrides,
        ),
      );
    });
  }
  return cases;
}

/** Runs one case: resolves its input, maps it with the engine's expression limits, compares with `expect`. */
export async function runMappingCase(loaded: LoadedMappingCase): Promise<MappingCaseResult> {
  const result = (differences: string[]): MappingCaseResult => ({
    name: loaded.name,
    source: loaded.source,
    ok: differences.length === 0,
    differences,
  });
  const spec = loaded.spec;
  if (!spec || loaded.problems.length > 0) return result(loaded.problems);
  const event = connectorRegistry.get(spec.connector)!.events[spec.event]!;
  const source = spec.expr ?? loaded.overrides[spec.connector]?.[spec.event] ?? event.mapping;

  let input: unknown;
  const { file, sample } = spec.input;
  const keys = Object.keys(spec.input);
  if (keys.length === 1 && typeof file === 'string') {
    const path = resolve(loaded.dir, file);
    if (!existsSync(path)) return result([`input file ${file} not found (looked for ${path})`]);
    try {
      input = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      return result([`input file ${file} is not JSON: ${(error as Error).message}`]);
    }
  } else if (keys.length === 1 && sample === true) {
    input = event.sample;
  } else {
    input = spec.input;
  }

  let record: unknown;
  try {
    const bindings = { event: { connector: spec.connector, type: spec.event, ...CASE_EVENT } };
    record = await compileExpression(source, DEFAULT_LIMITS).evaluate(input, bindings);
  } catch (error) {
    return result([`mapping failed: ${(error as Error).message}`]);
  }
  // What the map step keeps: a plain JSON object (JSONata sequences become arrays, undefined fields disappear).
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return result([`mapping must produce an object, got ${record === undefined ? 'nothing' : show(record)}`]);
  }
  return result(compare(spec.expect, JSON.parse(JSON.stringify(record)), ''));
}

/** Loads and runs every case (see `loadMappingCases`). */
export async function runMappingCases(options: LoadMappingCasesOptions): Promise<MappingCaseResult[]> {
  const results: MappingCaseResult[] = [];
  for (const loaded of loadMappingCases(options)) results.push(await runMappingCase(loaded));
  return results;
}

/** The cases of a connector's `mapping-cases.yaml`: a list of cases. A file that cannot be read is one failing case. */
function casesFromFile(path: string): LoadedMappingCase[] {
  const shown = display(path);
  const text = readFileSync(path, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const broken = (message: string, offset = 0): LoadedMappingCase[] => [
    {
      name: shown,
      source: `${shown}:${lineCounter.linePos(offset).line}`,
      problems: [message],
      dir: dirname(path),
      overrides: {},
    },
  ];
  if (doc.errors.length > 0) return broken(doc.errors[0]!.message.split('\n')[0]!, doc.errors[0]!.pos[0]);
  const specs: unknown = doc.toJS();
  if (!Array.isArray(specs)) return broken(`${CASES_FILE} must be a list of cases`);
  const lines = caseLines(text, []);
  return specs.map((spec, i) => prepare(spec, `${shown}:${lines[i] ?? 1}`, dirname(path), {}));
}

/** Checks a case's shape, connector and event; what is wrong becomes its problems. */
function prepare(
  spec: unknown,
  source: string,
  dir: string,
  overrides: LoadedMappingCase['overrides'],
): LoadedMappingCase {
  const named = spec as Partial<MappingCase> | null;
  const name = typeof named?.name === 'string' && named.name !== '' ? named.name : source;
  if (!validateCase(spec)) {
    const problems = (validateCase.errors ?? []).map((error) => {
      const params = error.params as Record<string, unknown>;
      if (error.keyword === 'required') return `missing field \`${String(params.missingProperty)}\``;
      if (error.keyword === 'additionalProperties')
        return `field \`${String(params.additionalProperty)}\` not recognised`;
      return `${error.instancePath ? `\`${error.instancePath.slice(1).replace(/\//g, '.')}\`` : 'case'} ${error.message}`;
    });
    return { name, source, problems, dir, overrides };
  }
  const connector = connectorRegistry.get(spec.connector);
  const problems = !connector
    ? [`unknown connector "${spec.connector}"; known: ${[...connectorRegistry.keys()].join(', ')}`]
    : !connector.events[spec.event]
      ? [
          `connector ${spec.connector} has no event "${spec.event}"; it has: ${Object.keys(connector.events).join(', ')}`,
        ]
      : [];
  return { name, source, problems, spec, dir, overrides };
}

/**
 * Each field of `expected` against `actual`: objects field by field (recursively), anything else (arrays included)
 * whole. A field missing from the record differs from one that is null.
 */
function compare(expected: Record<string, unknown>, actual: Record<string, unknown>, prefix: string): string[] {
  const differences: string[] = [];
  for (const [field, want] of Object.entries(expected)) {
    const path = `${prefix}${field}`;
    const got = actual[field];
    if (!Object.hasOwn(actual, field)) differences.push(`${path}: expected ${show(want)}, got nothing`);
    else if (isPlainObject(want) && isPlainObject(got)) differences.push(...compare(want, got, `${path}.`));
    else if (!isDeepStrictEqual(want, got)) differences.push(`${path}: expected ${show(want)}, got ${show(got)}`);
  }
  return differences;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** 1-based line of each item of the list at `path` (the document itself when empty). */
function caseLines(text: string, path: string[]): number[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  let node: unknown = doc.contents;
  for (const key of path) node = isMap(node) ? node.get(key, true) : undefined;
  if (!isSeq(node)) return [];
  return node.items.map((item) => lineCounter.linePos((item as Node).range?.[0] ?? 0).line);
}

/** A path as the user would type it: relative to the working directory when inside it. */
function display(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown.startsWith('..') || isAbsolute(shown) ? path : shown;
}
