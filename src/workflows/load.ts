import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { ConnectorDefinition } from '../connectors/define-connector.js';
import { connectors as connectorRegistry } from '../connectors/registry.js';
import { demoSummary, ENV_VARS, envSpec, resolveSecret, type Env } from '../config/env.js';
import type { AnyStepDefinition, CompileContext } from '../engine/steps/define-step.js';
import { steps as stepRegistry } from '../engine/steps/registry.js';
import type { CompiledTrigger } from '../engine/triggers/define-trigger.js';
import { triggers as triggerRegistry } from '../engine/triggers/registry.js';
import type { ErrorObject } from 'ajv';
import { isSupportedCountry } from 'libphonenumber-js';
import { ajv } from './ajv.js';
import {
  memberId,
  type AgentConfig,
  type CrmflowConfig,
  type PoolConfig,
  type StepConfig,
  type WorkflowConfig,
} from './config-types.js';
import { DEFAULT_BLOCKED, DEFAULT_CAPS, type IdentityPolicy } from '../customers/identity-policy.js';
import { parseDuration } from './duration.js';
import { HoursError, isTimeZone, parseWeek, quietWeek } from '../engine/opening-hours.js';
import type { HoursRule } from '../engine/send-window.js';
import { compileExpression, ExpressionSyntaxError, type CompiledExpression } from './expression.js';
import { compileTemplate } from './template.js';
import { BUILTIN_TRAITS, compileAudienceConfig, type CompiledSegment, type CompiledTrait } from './segments.js';
import { COMMON_STEP_FIELDS, stepFieldsSchema, topLevelSchema, triggerFieldsSchema } from './schema.js';
import { compilePipelines, type Pipeline } from './pipelines.js';

/** A problem in workflows.yaml, printed as `file:line:col message`. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.message}`;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
  }
}

export interface CompiledStep {
  index: number;
  id: string;
  definition: AnyStepDefinition;
  config: StepConfig;
  compiled: unknown;
  timeoutMs: number;
  /** The step's `if:`; the step is skipped when false. */
  condition?: CompiledExpression;
  /** The step as written, `${VAR}` not substituted: what run records show, so no secret value reaches them. */
  written: StepConfig;
  /** The step's `on_error:`, else its type's default. */
  onError: 'stop' | 'continue';
}

export interface CompiledWorkflow {
  id: string;
  name: string;
  enabled: boolean;
  /** Hash of the workflow's definition: runs record which version they ran. */
  version: string;
  trigger: CompiledTrigger;
  steps: CompiledStep[];
  config: WorkflowConfig;
}

export interface LoadedConfig {
  file: string;
  config: CrmflowConfig;
  workflows: CompiledWorkflow[];
  connectors: Map<string, LoadedConnector>;
  agents: Map<string, AgentConfig>;
  pools: Map<string, PoolConfig>;
  businessHours: Map<string, HoursRule>;
  quietHours: Map<string, HoursRule>;
  /** The `pipelines:` of workflows.yaml (deals), by id. */
  pipelines: Map<string, Pipeline>;
  defaultRegion?: string;
  /** The `identity:` rules, with the defaults filled in. */
  identityPolicy: IdentityPolicy;
  /** `identity.suggest_duplicates`; undefined when turned off. */
  duplicateFinder?: DuplicateFinderConfig;
  /** The environment variables whose demo values are in use (unset secrets outside production). */
  demoSecrets: string[];
  /** At most one line, to be logged loudly: the demo values in use. */
  warnings: string[];
  /**
   * Values that must never be shown (redacted from run records, errors, logs and API answers): connector secrets and
   * every `${VAR}` substituted from a secret or undeclared variable, at least {@link MIN_REDACTED_LENGTH} characters.
   */
  secretValues: string[];
  /** The admin-declared `traits:` and the `segments:`. */
  traits: CompiledTrait[];
  segments: CompiledSegment[];
}

/** Shorter configured values (`x` in a test file) are not redacted: they would blank ordinary text. */
export const MIN_REDACTED_LENGTH = 6;

export interface LoadedConnector {
  definition: ConnectorDefinition;
  secrets: Record<string, string>;
  /**
   * The variables behind this connector's secrets that are unset, so their demo values are in use: the vendor would
   * refuse them, so the connector's messages go to the local outbox instead (see `outbound.ts`).
   */
  demoSecrets: string[];
}

export interface DuplicateFinderConfig {
  /** Milliseconds between runs. */
  everyMs: number;
  /** Lowest name similarity (0..1) suggested. */
  minScore: number;
}

export interface LoadOptions {
  env: Env;
  /** Maximum file size in bytes. Default 1 MiB. */
  maxBytes?: number;
}

const DEFAULT_STEP_TIMEOUT_MS = 30_000;
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

type Path = ReadonlyArray<string | number>;

/** Loads workflows.yaml: parse with positions, interpolate `${VAR}`, validate, compile. Throws ConfigError with every issue. */
export function loadConfigFile(path: string, options: LoadOptions): LoadedConfig {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const file = basename(path);
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw new ConfigError([{ file, line: 1, col: 1, message: `cannot read ${path}: ${(error as Error).message}` }]);
  }
  if (size > maxBytes)
    throw new ConfigError([{ file, line: 1, col: 1, message: `file is ${size} bytes; the limit is ${maxBytes}` }]);
  return loadConfigText(readFileSync(path, 'utf8'), file, options);
}

export function loadConfigText(text: string, file: string, options: LoadOptions): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const at = (offset: number, message: string) => {
    const { line, col } = lineCounter.linePos(offset);
    issues.push({ file, line, col, message });
  };
  for (const error of doc.errors) at(error.pos[0], error.message.split('\n')[0]!);
  if (issues.length > 0) throw new ConfigError(issues);

  let written: CrmflowConfig | undefined;
  try {
    written = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as CrmflowConfig;
  } catch {
    // Reported below, by the same conversion after interpolation.
  }
  // Every secret crmflow reads from the environment, referenced in the file or not (the API token, the session key...).
  const secretValues = new Set<string>(
    ENV_VARS.flatMap((spec) => (spec.secret && options.env[spec.name] ? [options.env[spec.name]!] : [])),
  );
  const demo: DemoValue[] = [];
  interpolate(doc, options.env, demo, at, secretValues);
  const demoSecrets = [...new Set(demo.map((value) => value.variable))];
  const summary = demoSummary(demoSecrets);

  const locate = (path: Path, message: string, key = false) => at(offsetOf(doc, path, key), message);
  let config: CrmflowConfig;
  try {
    config = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as CrmflowConfig;
  } catch (error) {
    at(0, (error as Error).message);
    throw new ConfigError(issues);
  }
  // Structural errors make the rest unreadable; missing variables do not, so everything else is still checked.
  if (!validateWith(topLevelSchema(), config, [], locate)) throw new ConfigError(issues);

  const regionAt = (path: Path, region: string | undefined) => {
    if (region !== undefined && /^[A-Z]{2}$/.test(region) && !isSupportedCountry(region))
      locate(path, `unknown region "${region}": use an ISO 3166 alpha-2 code with phone numbers, e.g. US, GB, DE`);
  };
  regionAt(['identity', 'default_region'], config.identity?.default_region);
  for (const [id, connector] of Object.entries(config.connectors ?? {}))
    regionAt(['connectors', id, 'default_region'], connector.default_region);
  config.connectors ??= {};
  config.agents ??= [];
  config.pools ??= {};
  config.workflows ??= [];
  const connectors = new Map<string, LoadedConnector>();
  for (const [id, connectorConfig] of Object.entries(config.connectors)) {
    const definition = connectorRegistry.get(id);
    if (!definition) {
      locate(['connectors', id], `unknown connector "${id}"; known: ${[...connectorRegistry.keys()].join(', ')}`, true);
      continue;
    }
    validateWith(secretsSchema(definition), connectorConfig.secrets ?? {}, ['connectors', id, 'secrets'], locate);
    for (const [name, problem] of Object.entries(definition.checkSecrets?.(connectorConfig.secrets ?? {}) ?? {})) {
      if (problem) locate(['connectors', id, 'secrets', name], problem);
    }
    for (const type of Object.keys(connectorConfig.mappings ?? {})) {
      if (!definition.events[type])
        locate(['connectors', id, 'mappings', type], `connector ${id} has no event "${type}"`, true);
      else compileAt(['connectors', id, 'mappings', type], connectorConfig.mappings![type]!, locate);
    }
    const demoVariables = demo
      .filter(({ path }) => path.length === 4 && path[0] === 'connectors' && path[1] === id && path[2] === 'secrets')
      .map(({ variable }) => variable);
    connectors.set(id, {
      definition,
      secrets: connectorConfig.secrets ?? {},
      demoSecrets: [...new Set(demoVariables)],
    });
    for (const value of Object.values(connectorConfig.secrets ?? {}))
      if (typeof value === 'string') secretValues.add(value);
  }

  const agents = new Map<string, AgentConfig>();
  config.agents.forEach((agent, i) => {
    if (agents.has(agent.id)) locate(['agents', i, 'id'], `duplicate agent id "${agent.id}"`);
    if (agent.working_hours && !agent.time_zone)
      locate(['agents', i, 'working_hours'], `agent ${agent.id} has working_hours but no time_zone`);
    if (agent.time_zone && !isTimeZone(agent.time_zone))
      locate(['agents', i, 'time_zone'], `unknown time zone "${agent.time_zone}"`);
    agents.set(agent.id, agent);
  });
  const pools = new Map<string, PoolConfig>(Object.entries(config.pools));
  for (const [name, pool] of pools) {
    pool.agents.forEach((member, i) => {
      if (!agents.has(memberId(member)))
        locate(['pools', name, 'agents', i], `unknown agent "${memberId(member)}" in pool ${name}`);
    });
    if (pool.lead !== undefined && !agents.has(pool.lead))
      locate(['pools', name, 'lead'], `unknown agent "${pool.lead}" as lead of pool ${name}`);
  }

  const { businessHours, quietHours } = compileHours(config, locate);
  for (const [name, pool] of pools) {
    if (pool.business_hours !== undefined && !(config.business_hours && pool.business_hours in config.business_hours)) {
      locate(
        ['pools', name, 'business_hours'],
        `unknown business_hours "${pool.business_hours}"; declared: ${[...businessHours.keys()].join(', ') || '(none)'}`,
      );
    }
  }
  const { traits, segments } = compileAudienceConfig(config, BUILTIN_TRAITS, locate);
  const pipelines = compilePipelines(config.pipelines, locate);
  if (config.reports?.time_zone !== undefined && !isTimeZone(config.reports.time_zone))
    locate(['reports', 'time_zone'], `unknown time zone "${config.reports.time_zone}"`);
  const spendSeen = new Set<string>();
  config.reports?.marketing_spend?.forEach((spend, i) => {
    const key = `${spend.month} ${spend.source} ${spend.currency}`;
    if (spendSeen.has(key))
      locate(
        ['reports', 'marketing_spend', i],
        `spend for ${spend.source} in ${spend.month} (${spend.currency}) is declared twice`,
      );
    spendSeen.add(key);
  });

  const workflows: CompiledWorkflow[] = [];
  const seen = new Set<string>();
  config.workflows.forEach((workflow, w) => {
    if (seen.has(workflow.id)) locate(['workflows', w, 'id'], `duplicate workflow id "${workflow.id}"`);
    seen.add(workflow.id);
    const configured = new Map([...connectors].map(([id, connector]) => [id, connector.definition]));
    const writtenSteps = written?.workflows?.[w]?.steps ?? [];
    const compiled = compileWorkflow(workflow, ['workflows', w], {
      config,
      connectors: configured,
      agents,
      pools,
      businessHours,
      quietHours,
      pipelines,
      locate,
      writtenSteps,
    });
    if (compiled) workflows.push(compiled);
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    file,
    config,
    workflows,
    connectors,
    agents,
    pools,
    businessHours,
    quietHours,
    pipelines,
    defaultRegion: config.identity?.default_region,
    identityPolicy: identityPolicy(config),
    duplicateFinder: duplicateFinder(config),
    demoSecrets,
    warnings: summary ? [summary] : [],
    traits,
    segments,
    secretValues: [...secretValues].filter((value) => value.length >= MIN_REDACTED_LENGTH),
  };
}

interface WorkflowScope {
  config: CrmflowConfig;
  connectors: ReadonlyMap<string, ConnectorDefinition>;
  agents: Map<string, AgentConfig>;
  pools: Map<string, PoolConfig>;
  businessHours: Map<string, HoursRule>;
  quietHours: Map<string, HoursRule>;
  pipelines: Map<string, Pipeline>;
  locate: (path: Path, message: string, key?: boolean) => void;
  /** The workflow's steps as written, before `${VAR}` substitution. */
  writtenSteps: StepConfig[];
}

/** `YYYY-MM-DD` naming a day of the calendar (not 2026-13-45 or 2026-02-30). */
function isCalendarDate(day: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === day;
}

/** The `business_hours:` and `quiet_hours:` declarations, each problem reported at its position. */
function compileHours(
  config: CrmflowConfig,
  locate: WorkflowScope['locate'],
): { businessHours: Map<string, HoursRule>; quietHours: Map<string, HoursRule> } {
  const zoneAt = (path: Path, zone: string | undefined) => {
    if (zone !== undefined && !isTimeZone(zone)) locate(path, `unknown time zone "${zone}"`);
  };
  const businessHours = new Map<string, HoursRule>();
  for (const [name, hours] of Object.entries(config.business_hours ?? {})) {
    const path = ['business_hours', name];
    zoneAt([...path, 'time_zone'], hours.time_zone);
    (hours.holidays ?? []).forEach((day, i) => {
      if (!isCalendarDate(day)) locate([...path, 'holidays', i], `holiday "${day}" is not a date (YYYY-MM-DD)`);
    });
    try {
      const week = parseWeek(hours.open);
      businessHours.set(name, {
        name,
        timeZone: hours.time_zone,
        defaultTimeZone: hours.time_zone,
        week,
        holidays: new Set(hours.holidays ?? []),
      });
    } catch (error) {
      if (!(error instanceof HoursError)) throw error;
      locate(error.key === undefined ? [...path, 'open'] : [...path, 'open', error.key], error.message, true);
    }
  }
  const quietHours = new Map<string, HoursRule>();
  for (const [name, quiet] of Object.entries(config.quiet_hours ?? {})) {
    const path = ['quiet_hours', name];
    const personal = quiet.time_zone === 'customer' || quiet.time_zone === 'owner';
    if (!personal) zoneAt([...path, 'time_zone'], quiet.time_zone);
    zoneAt([...path, 'default_time_zone'], quiet.default_time_zone);
    if (personal && quiet.default_time_zone === undefined)
      locate(
        path,
        `quiet hours in the ${quiet.time_zone}'s time zone need \`default_time_zone\` (for those without one)`,
      );
    try {
      const week = quietWeek(quiet.from, quiet.to);
      quietHours.set(name, {
        name,
        timeZone: quiet.time_zone,
        defaultTimeZone: quiet.default_time_zone ?? quiet.time_zone,
        week,
        holidays: new Set(),
      });
    } catch (error) {
      if (!(error instanceof HoursError)) throw error;
      locate([...path, 'to'], error.message);
    }
  }
  return { businessHours, quietHours };
}

/** Thrown by `fail` inside compile functions; caught per trigger or step so every other problem is still reported. */
class LocatedFailure extends Error {
  constructor(
    message: string,
    readonly path: Path,
    /** A JSONata or template syntax error: reported even when the step has other errors. */
    readonly syntax = false,
  ) {
    super(message);
  }
}

function compileWorkflow(workflow: WorkflowConfig, path: Path, scope: WorkflowScope): CompiledWorkflow | undefined {
  const { locate } = scope;
  const fieldPath = (base: Path, field?: string): Path => (field === undefined ? base : [...base, ...field.split('.')]);
  /** Runs a compile function; a located failure is reported and yields `ok: false`. */
  const guarded = <T>(work: () => T): { ok: true; value: T } | { ok: false } => {
    try {
      return { ok: true, value: work() };
    } catch (error) {
      if (!(error instanceof LocatedFailure)) throw error;
      locate(error.path, error.message);
      return { ok: false };
    }
  };
  const expressionAt = (base: Path) => (field: string, source: string) => {
    try {
      return compileExpression(source);
    } catch (error) {
      if (error instanceof ExpressionSyntaxError) throw new LocatedFailure(error.message, fieldPath(base, field), true);
      throw error;
    }
  };

  const triggerPath = [...path, 'trigger'];
  const triggerDefinition = triggerRegistry.get(workflow.trigger.type);
  let trigger: CompiledTrigger | undefined;
  if (!triggerDefinition) {
    locate(
      [...triggerPath, 'type'],
      `unknown trigger type "${workflow.trigger.type}"; expected one of: ${[...triggerRegistry.keys()].join(', ')}`,
    );
  } else if (validateWith(triggerFieldsSchema(triggerDefinition), workflow.trigger, triggerPath, locate)) {
    const result = guarded(() =>
      triggerDefinition.compile(workflow.trigger, {
        connectors: connectorRegistry,
        connectorConfigs: scope.config.connectors,
        expression: expressionAt(triggerPath),
        fail: (message, field) => {
          throw new LocatedFailure(message, fieldPath(triggerPath, field));
        },
      }),
    );
    if (result.ok) trigger = result.value;
  }

  const compiledSteps: CompiledStep[] = [];
  const stepIds = new Set<string>();
  workflow.steps.forEach((step: StepConfig, index) => {
    const stepPath = [...path, 'steps', index];
    const definition = stepRegistry.get(step.type);
    if (!definition) {
      locate(
        [...stepPath, 'type'],
        `unknown step type "${step.type}"; expected one of: ${[...stepRegistry.keys()].join(', ')}`,
      );
      return;
    }
    const id = step.id ?? (stepIds.has(step.type) ? `${step.type}_${index + 1}` : step.type);
    if (stepIds.has(id)) locate([...stepPath, 'id'], `duplicate step id "${id}" in workflow ${workflow.id}`);
    stepIds.add(id);
    const valid = validateWith(stepFieldsSchema(definition), step, stepPath, locate);
    const timeoutMs = valid && step.timeout !== undefined ? parseDuration(step.timeout)! : DEFAULT_STEP_TIMEOUT_MS;
    const context: CompileContext = {
      trigger:
        trigger?.kind === 'webhook'
          ? { connector: trigger.connector, connectorConfig: trigger.connectorConfig, eventTypes: trigger.eventTypes }
          : trigger?.kind === 'poll'
            ? {
                connector: trigger.connector,
                connectorConfig: trigger.connectorConfig,
                eventTypes: Object.keys(trigger.connector.events),
              }
            : { eventTypes: [] },
      agents: scope.agents,
      pools: scope.pools,
      businessHours: scope.businessHours,
      quietHours: scope.quietHours,
      pipelines: scope.pipelines,
      connectors: scope.connectors,
      expression: expressionAt(stepPath),
      template: (field, source) => {
        try {
          return compileTemplate(source);
        } catch (error) {
          if (error instanceof ExpressionSyntaxError)
            throw new LocatedFailure(`in template: ${error.message}`, fieldPath(stepPath, field), true);
          throw error;
        }
      },
      fail: (message, field) => {
        throw new LocatedFailure(message, fieldPath(stepPath, field));
      },
    };
    const own = Object.fromEntries(Object.entries(step).filter(([key]) => !COMMON_STEP_FIELDS.includes(key)));
    if (!valid) {
      // The step cannot be compiled as it is, but its expressions' syntax errors are still worth reporting with the
      // schema's: one `validate` shows every problem of the step. Anything else its compile trips on is not reported.
      for (const work of [
        () => definition.compile(own, context),
        ...(typeof step.if === 'string' ? [() => expressionAt(stepPath)('if', step.if!)] : []),
      ]) {
        try {
          work();
        } catch (error) {
          if (error instanceof LocatedFailure && error.syntax) locate(error.path, error.message);
        }
      }
      return;
    }
    if (!trigger && workflow.trigger.type !== 'schedule') return; // its problem is reported; without it the steps' event context is unknown
    const compiled = guarded(() => definition.compile(own, context));
    const condition = step.if === undefined ? undefined : guarded(() => expressionAt(stepPath)('if', step.if!));
    if (compiled.ok && (condition === undefined || condition.ok)) {
      const written = scope.writtenSteps[index] ?? step;
      compiledSteps.push({
        index,
        id,
        definition,
        config: step,
        compiled: compiled.value,
        timeoutMs,
        condition: condition?.value,
        onError: step.on_error ?? definition.onError,
        written,
      });
    }
  });
  if (!trigger || compiledSteps.length !== workflow.steps.length) return undefined;
  return {
    id: workflow.id,
    name: workflow.name ?? workflow.id,
    enabled: workflow.enabled ?? true,
    version: createHash('sha256').update(JSON.stringify(workflow)).digest('hex').slice(0, 12),
    trigger,
    steps: compiledSteps,
    config: workflow,
  };
}

function compileAt(path: Path, source: string, locate: (path: Path, message: string) => void): void {
  try {
    compileExpression(source);
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) locate(path, error.message);
    else throw error;
  }
}

function secretsSchema(definition: ConnectorDefinition) {
  const names = Object.keys(definition.secrets);
  return {
    type: 'object',
    properties: Object.fromEntries(
      names.map((name) => [name, { type: 'string', minLength: 1, description: definition.secrets[name]!.description }]),
    ),
    required: names.filter((name) => !definition.secrets[name]!.optional),
    additionalProperties: false,
  };
}

/** Validates `value` with ajv and reports each error at its YAML position. True when valid. */
function validateWith(
  schema: object,
  value: unknown,
  base: Path,
  locate: (path: Path, message: string, key?: boolean) => void,
): boolean {
  const validate = ajv.compile(schema);
  if (validate(value)) return true;
  const errors = validate.errors ?? [];
  // A value that fits none of a field's alternatives (a duration: "30s" or a number) is one problem, said with the
  // field's description; each branch's own rule (a raw regex, "must be number") would say it twice, cryptically.
  const branchOf = (error: ErrorObject) =>
    errors.find(
      (other) => other.keyword === 'anyOf' && other !== error && error.schemaPath.startsWith(`${other.schemaPath}/`),
    );
  const scalarChoice = (choice: ErrorObject) =>
    errors.every((error) => branchOf(error) !== choice || error.instancePath === choice.instancePath);
  for (const error of errors) {
    const path = [...base, ...error.instancePath.split('/').slice(1).map(decodePointer)];
    const params = error.params as Record<string, unknown>;
    const field = path.at(-1) === undefined ? 'value' : `\`${String(path.at(-1))}\``;
    const choice = branchOf(error);
    if (choice && choice.instancePath === error.instancePath && scalarChoice(choice)) continue;
    if (error.keyword === 'required') locate(path, `missing field \`${String(params.missingProperty)}\``);
    else if (error.keyword === 'additionalProperties')
      locate(
        [...path, String(params.additionalProperty)],
        `field \`${String(params.additionalProperty)}\` not recognised`,
        true,
      );
    else if (error.keyword === 'enum')
      locate(path, `${error.message}: ${(params.allowedValues as unknown[]).join(', ')}`);
    else if (error.keyword === 'anyOf' || error.keyword === 'pattern') {
      if (error.keyword === 'anyOf' && !scalarChoice(error)) continue; // the branch errors, deeper in the value, say more
      const description = (
        schemaAt(schema, error.schemaPath.split('/').slice(1, -1)) as { description?: unknown } | undefined
      )?.description;
      const shown = JSON.stringify(
        error.instancePath
          .split('/')
          .slice(1)
          .map(decodePointer)
          .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], value),
      );
      locate(
        path,
        typeof description === 'string'
          ? `${field} ${shown} is not valid: ${description}`
          : `${field} ${error.message}`,
      );
    } else if (error.keyword === 'if')
      continue; // the branch errors say more
    else locate(path, `${field} ${error.message}`);
  }
  return false;
}

/** The part of a JSON Schema at a schema path's segments (as ajv reports them), or undefined. */
function schemaAt(schema: object, segments: string[]): unknown {
  return segments
    .map(decodePointer)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], schema);
}

function decodePointer(segment: string): string | number {
  const decoded = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(decoded) ? Number(decoded) : decoded;
}

/** The source offset of the node at `path` (or of its key), falling back to the nearest ancestor that exists. */
function offsetOf(doc: Document, path: Path, key: boolean): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      const target = key && i === path.length - 1 ? pair.key : (pair.value ?? pair.key);
      offset = (target as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** A `${VAR}` that took its variable's demo value, and where: the keys leading to its scalar. */
interface DemoValue {
  variable: string;
  path: string[];
}

/** Replaces `${VAR}` in every string scalar; a variable that is unset (and has no demo value) is an error at its position. */
function interpolate(
  doc: Document,
  env: Env,
  demo: DemoValue[],
  at: (offset: number, message: string) => void,
  secretValues: Set<string>,
): void {
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(INTERPOLATION, (whole, name: string) => {
        const demoUsed: string[] = [];
        const value = envSpec(name)?.secret ? resolveSecret(env, name, demoUsed) : env[name] || envSpec(name)?.default;
        if (value === undefined) {
          at(
            node.range?.[0] ?? 0,
            `environment variable ${name} is not set${envSpec(name)?.secret ? ' (required in production)' : ''}`,
          );
          return whole;
        }
        // Declared non-secret settings (a URL, a region) stay readable; secrets and variables we do not know are hidden.
        if (envSpec(name)?.secret || !envSpec(name)) secretValues.add(value);
        if (demoUsed.length > 0)
          demo.push({
            variable: name,
            path: ancestors.flatMap((ancestor) =>
              isPair(ancestor) && isScalar(ancestor.key) ? [String(ancestor.key.value)] : [],
            ),
          });
        return value;
      });
    },
  });
}

function identityPolicy(config: CrmflowConfig): IdentityPolicy {
  const identity = config.identity ?? {};
  const blocked: Record<string, string[]> =
    identity.default_blocklist === false ? {} : structuredClone(DEFAULT_BLOCKED);
  for (const [kind, patterns] of Object.entries(identity.blocked ?? {}))
    blocked[kind] = [...(blocked[kind] ?? []), ...patterns];
  const regions = Object.fromEntries(
    Object.entries(config.connectors).flatMap(([id, connector]) =>
      connector.default_region ? [[id, connector.default_region]] : [],
    ),
  );
  return {
    mergeOn: identity.merge_on,
    caps: { ...DEFAULT_CAPS, ...identity.caps },
    blocked,
    foldGmail: identity.fold_gmail ?? false,
    regions,
  };
}

/** The duplicate finder's schedule: on by default, hourly, names at least 0.9 alike. */
function duplicateFinder(config: CrmflowConfig): DuplicateFinderConfig | undefined {
  const setting = config.identity?.suggest_duplicates;
  if (setting === false) return undefined;
  return { everyMs: parseDuration(setting?.every ?? '1h')!, minScore: setting?.min_score ?? 0.9 };
}
