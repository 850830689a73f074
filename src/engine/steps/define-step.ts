import type { RatingKind } from '../../customers/feedback-token.js';
import type { Logger } from 'pino';
import type { AxiosInstance } from 'axios';
import type { IdentityPolicy } from '../../customers/identity-policy.js';
import type { Identity } from '../../customers/normalize.js';
import type { CustomerSummary } from '../../customers/record.js';
import type { AssignmentResult, AssignRequest } from '../../store/assignments.js';
import type { SlaAction } from '../../store/slas.js';
import type { HoursRule } from '../opening-hours.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import type { AgentConfig, ConnectorConfig, PoolConfig } from '../../workflows/config-types.js';
import type { ConnectorDefinition } from '../../connectors/define-connector.js';
import { RetrySignal } from '../../connectors/shared/retry-signal.js';
import type { ReplyPolicy } from '../reply-policy/gate.js';
import type { Pipeline } from '../../workflows/pipelines.js';
import type { DealChange, DealChangeResult } from '../../store/deals.js';
import type { PoolClient } from '../../store/pool.js';

/**
 * The contract of a step type: its YAML schema, a compile function run once when workflows.yaml is loaded, and a
 * run function. Registered once in `registry.ts`; the engine knows nothing else about it.
 */
export interface StepDefinition<Config = Record<string, unknown>, Compiled = unknown> {
  /** The `type:` in YAML, snake_case. */
  type: string;
  summary: string;
  /** JSON Schema of the step's own fields (without the common `type`, `id`, `name`, `if`, `timeout`). */
  schema: StepSchema;
  /** Configs that must lint clean (checked by a test, shown in docs). */
  examples: Config[];
  /** Validates what the schema cannot and prepares the step (compiles expressions) once per load. */
  compile: (config: Config, context: CompileContext) => Compiled;
  run: (compiled: Compiled, context: StepContext) => Promise<StepResult>;
  /**
   * What a failure of this step does unless the step says otherwise (`on_error:` in YAML). `stop`: the run fails, and
   * is retried while the error may heal. `continue`: the failure is recorded on the step and the run goes on at once
   * (the step is not retried); the run ends `succeeded` with its failed steps named in `error`. Declared by every step
   * type, so each default is a choice: stop where later steps need what the step makes or a retry is what heals it.
   */
  onError: 'stop' | 'continue';
  /**
   * The step changes nothing outside its run (no database write, no message): its record is written with the next
   * step's, one round trip fewer; a crash before then only runs it again.
   */
  effectFree?: true;
  /**
   * The step writes only to crmflow's database, idempotently (keyed by the run, the vendor object or the identities):
   * run again after a crash, it finds its effect done. Its record waits like an effect-free step's, but only until the
   * next step that is neither (a message, an HTTP call), so that a retry of that step sees the outputs it saw first.
   */
  rerunnable?: true;
}

export interface StepSchema {
  type: 'object';
  properties: Record<string, unknown>;
  required?: string[];
  additionalProperties: false;
}

/** A step definition with its config types erased, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStepDefinition = StepDefinition<any, any>;

export function defineStep<Config, Compiled>(
  definition: StepDefinition<Config, Compiled>,
): StepDefinition<Config, Compiled> {
  return definition;
}

/** What a step's compile function may use. Errors are reported as `workflows.yaml:LINE:COL message`. */
export interface CompileContext {
  /** The trigger's connector and event types, when the workflow is started by a webhook. */
  trigger: { connector?: ConnectorDefinition; connectorConfig?: ConnectorConfig; eventTypes: string[] };
  agents: ReadonlyMap<string, AgentConfig>;
  pools: ReadonlyMap<string, PoolConfig>;
  /** The `business_hours:` and `quiet_hours:` declared in workflows.yaml, by name. */
  businessHours: ReadonlyMap<string, HoursRule>;
  quietHours: ReadonlyMap<string, HoursRule>;
  /** The `pipelines:` declared in workflows.yaml, by id. */
  pipelines: ReadonlyMap<string, Pipeline>;
  /** The connectors configured in workflows.yaml. */
  connectors: ReadonlyMap<string, ConnectorDefinition>;
  /** Compiles a JSONata expression found at `field` (a path below the step); a syntax error becomes a config error. */
  expression: (field: string, source: string) => CompiledExpression;
  /** Compiles a `{{ expression }}` template found at `field`. */
  template: (field: string, source: string) => CompiledTemplate;
  /** Throws a config error located at `field` (or at the step when omitted). */
  fail: (message: string, field?: string) => never;
}

/** The state a run builds up step by step; what the steps' `state` results set. */
export interface RunState {
  /** The unified record produced by the last `map` step. */
  record?: Record<string, unknown>;
  customer?: CustomerSummary;
  owner?: AgentConfig;
}

export type { CustomerSummary } from '../../customers/record.js';

export interface TriggerEvent {
  connector: string;
  type: string;
  external_id: string;
  occurred_at: string;
}

export interface StepContext {
  runId: number;
  /** The workflow the run belongs to. */
  workflowId: string;
  stepId: string;
  attempt: number;
  /** Stable for this step of this run across retries: use it for every side effect. */
  idempotencyKey: string;
  /** The webhook event that started the run, or undefined for scheduled runs. */
  event: TriggerEvent | undefined;
  /** The vendor payload (`$` in expressions). */
  payload: unknown;
  state: RunState;
  /** Outputs of the steps before this one, by step id. */
  steps: Readonly<Record<string, unknown>>;
  /** Bindings for expressions and templates: `$event`, `$record`, `$customer`, `$owner`, `$steps`. */
  bindings: Record<string, unknown>;
  services: StepServices;
  /**
   * Set when this step suspended the run (`suspend`) and now runs again because its time has come: `since` is when it
   * suspended, `until` the time it asked for.
   */
  resumed?: { since: Date; until: Date };
  /** Aborted when the step's timeout expires. */
  signal: AbortSignal;
  logger: Logger;
}

export interface StepResult {
  /** Recorded on the run and visible as `$steps.<id>` to later steps. JSON-serialisable. */
  output?: unknown;
  state?: RunState;
  /** Ends the run early with this status (e.g. a filter that did not match). */
  stop?: 'filtered';
  /**
   * Suspends the run: it is recorded `waiting` (the output with it) and this same step runs again at `until`, with
   * `context.resumed` set. Nothing is held in memory meanwhile: a restart or a lost job changes nothing.
   */
  suspend?: { until: Date; reason: string };
}

/** Everything the engine lends steps: they never import the store, queues or HTTP layers. */
export interface StepServices {
  defaultRegion: string;
  /** The `identity:` rules of workflows.yaml. */
  identityPolicy: IdentityPolicy;
  agents: ReadonlyMap<string, AgentConfig>;
  pools: ReadonlyMap<string, PoolConfig>;
  upsertCustomer: (input: {
    identities: Identity[];
    profile: Record<string, unknown>;
    occurredAt: Date;
    source: string;
    eventRef: string;
    policy: IdentityPolicy;
    runId?: number;
  }) => Promise<{
    customerId: number;
    created: boolean;
    mergedIds: number[];
    attached: Identity[];
    suggested: number[];
    customer: CustomerSummary;
  }>;
  loadCustomer: (customerId: number) => Promise<CustomerSummary>;
  /**
   * Coalesces the traits and segment refreshes of run `runId` into one (#21; see README, "Where the statements go"):
   * until `end`, the changes the run makes through these services leave the customer's refresh to `flush`, and the
   * engine events they wrote are queued after it. Absent (test doubles): every change refreshes at once.
   */
  coalesceRefreshes?: (runId: number) => CoalescedRefreshes;
  upsertTimeline: (entry: {
    customerId: number;
    source: string;
    externalId: string;
    type: string;
    occurredAt: Date;
    versionAt?: Date;
    summary?: string | null;
    data?: unknown;
    /** What the entry is worth as a purchase (paid order net of refunds, paid invoice); null when it is not one. */
    amount?: number | null;
    currency?: string | null;
    runId?: number;
  }) => Promise<{ id: number; inserted: boolean; traits?: Record<string, unknown> }>;
  assignLead: (request: AssignRequest) => Promise<AssignmentResult>;
  /**
   * Sends an email reply, with a one-click unsubscribe link and header; recorded before it is sent. `policy` is checked
   * first (consent, limits): a reply it stops is recorded as `skipped` with the reason.
   */
  sendEmail: (message: {
    idempotencyKey: string;
    customerId: number | null;
    /** Null for a message a person sends (an agent's message from crmflow, a case reply). */
    runId: number | null;
    to: string;
    subject: string;
    text: string;
    policy?: ReplyPolicy;
    /** The agent sending it (a person's contact); absent for automated replies. */
    agentId?: string;
  }) => Promise<{ status: string; messageId?: number; reason?: string; retryable?: boolean }>;
  /**
   * Sends a text on a messaging channel through the connector that provides it, to the customer's identity of the
   * channel's kind (one of `preferred` first). Recorded before it is sent, like email; consent, the vendor's rules
   * (sender, messaging window) and `policy` are checked first.
   */
  sendMessage: (message: {
    channel: string;
    idempotencyKey: string;
    customerId: number;
    runId: number | null;
    preferred: Identity[];
    identities: Identity[];
    text: string;
    trigger: { type: string; payload: unknown } | undefined;
    policy?: ReplyPolicy;
    agentId?: string;
  }) => Promise<{ status: string; messageId?: number; reason?: string; retryable?: boolean }>;
  /** The channel an inbound event came on (the connector's `channelOf`); undefined when it does not say. */
  channelOf: (event: TriggerEvent | undefined, payload: unknown) => string | undefined;
  /**
   * Why the inbound message that started the run was sent by a machine (an auto-reply, a bounce, a list: RFC 3834), from
   * the connector's `inboundMessage`; undefined for a message from a person. Replies to its sender are then skipped.
   */
  automatedInbound: (
    event: TriggerEvent | undefined,
    payload: unknown,
  ) => { reason: string; address: string } | undefined;
  http: AxiosInstance;
  /** The current time; injectable so time-based steps (hours, waits, SLAs) can be tested at any date. */
  now: () => Date;
  /** One-click rating links for the message a step sends under `messageKey`; undefined when links cannot be signed. */
  ratingLinks: (messageKey: string, kind: RatingKind) => string[] | undefined;
  /** The customer's timeline entries (following merges) that occurred at or after `since`, oldest first, at most 500. */
  timelineSince: (
    customerId: number,
    since: Date,
  ) => Promise<Array<{ type: string; source: string; occurred_at: string; summary: string | null; data: unknown }>>;
  /**
   * Checks an assignment's SLA at `dueAt`: unless the owner has contacted the lead by then, `action` runs. Idempotent per
   * assignment; survives restarts (stored, then a delayed job).
   */
  scheduleSla: (sla: { assignmentKey: string; runId: number; dueAt: Date; action: SlaAction }) => Promise<void>;
  /** Creates a follow-up task once per key; task.due fires at `dueAt`, task.overdue at `overdueAt` if still open. */
  createTask: (task: {
    idempotencyKey: string;
    customerId: number | null;
    runId: number;
    agentId: string | null;
    title: string;
    notes: string | null;
    dueAt: Date;
    overdueAt: Date;
  }) => Promise<{ taskId: number; created: boolean; agentId: string | null; dueAt: string }>;
  /**
   * Opens a service case, joins the customer's open one or reopens a recently resolved one (once per key); case.opened
   * and the breach checks follow. `acknowledge` renders the automatic answer sent when a case is opened.
   */
  openCase: (request: OpenCaseRequest) => Promise<OpenCaseOutput>;
  /** Sets the lifecycle stage once per key, with history; lifecycle.changed only on a real change. */
  setLifecycle: (change: {
    customerId: number;
    stage: string;
    idempotencyKey: string;
    runId: number;
  }) => Promise<{ from: string; to: string; changed: boolean }>;
  /** Adds to the score once per key, with history; score.threshold for each threshold reached from below. */
  addScore: (change: {
    customerId: number;
    delta: number;
    thresholds: number[];
    idempotencyKey: string;
    runId: number;
  }) => Promise<{
    previous: number;
    score: number;
    crossed: number[];
    applied: boolean;
  }>;
  /**
   * Opens, moves or closes a customer's deal (see `changeDeal`): once per `idempotencyKey`, under the customer's lock;
   * deal.opened, deal.stage_changed, deal.won and deal.lost are queued after it commits.
   */
  changeDeal: (change: Omit<DealChange, 'listenedEvents'>) => Promise<Omit<DealChangeResult, 'events'>>;
}

export interface OpenCaseRequest {
  idempotencyKey: string;
  customerId: number;
  runId: number;
  subject: string;
  channel: string | null;
  sourceEvent: string | null;
  message: { body: string; timelineEventId: number | null; at: Date } | null;
  priority: 'low' | 'normal' | 'high' | 'urgent';
  pool: string;
  candidates: string[];
  businessHours: string | null;
  firstResponseMs: number | null;
  resolutionMs: number | null;
  joinOpen: boolean;
  /** False: the message only joins or reopens a case of the customer. */
  mayOpen: boolean;
  reopenWithinMs: number | null;
  acknowledge?: (facts: {
    id: number;
    subject: string;
    priority: string;
    owner_agent_id: string | null;
    first_response_due: string | null;
    resolution_due: string | null;
  }) => Promise<string>;
}

export interface OpenCaseOutput {
  /** Null when the message opened nothing and joined nothing (`open_if` false, no case to join). */
  case_id: number | null;
  action: 'opened' | 'joined' | 'reopened' | 'none';
  owner_agent_id: string | null;
  priority: string;
  first_response_due_at: string | null;
  resolution_due_at: string | null;
  acknowledgement?: { status: string; channel: string; message_id?: number; reason?: string };
}

/** A run's owed refreshes: see `StepServices.coalesceRefreshes`. */
export interface CoalescedRefreshes {
  /** Whether a change waits for its refresh. */
  pending: () => boolean;
  /** Owes a refresh of the customer (a resumed run: its earlier attempt may have stopped between a change and it). */
  owe: (customerId: number) => void;
  /**
   * One transaction: the owed refreshes, then `work` (the run's record that must commit with them); afterwards the
   * engine events are queued. Returns `work`'s result and the traits now stored, by the customer id they were owed for.
   */
  flush: <T>(
    work?: (client: PoolClient) => Promise<T>,
  ) => Promise<{ result: T | undefined; traits: Map<number, Record<string, unknown>> }>;
  /** Stops coalescing: later changes refresh at once again. */
  end: () => void;
}

/** A step failure. `retryable: false` fails the run at once (a broken mapping); otherwise the job is retried. */
export class StepError extends RetrySignal {
  override name = 'StepError';
  constructor(message: string, retryable: boolean, retryAfterMs?: number) {
    super(message, retryable, retryAfterMs);
  }
}
