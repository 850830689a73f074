/** An agent of a pool with its share of new leads. */
export interface WeightedAgent {
  id: string;
  weight: number;
}

/**
 * The smooth weighted round-robin order of a pool (nginx's algorithm): every agent appears `weight` times per cycle,
 * spread out rather than in runs, so any window of the sequence is close to the weights. Deterministic, so every
 * worker derives the same cycle and a shared position into it makes the split exact.
 */
export function weightedCycle(agents: readonly WeightedAgent[]): string[] {
  const total = agents.reduce((sum, agent) => sum + agent.weight, 0);
  const current = agents.map(() => 0);
  const cycle: string[] = [];
  for (let slot = 0; slot < total; slot++) {
    let best = 0;
    agents.forEach((agent, i) => {
      current[i]! += agent.weight;
      if (current[i]! > current[best]!) best = i;
    });
    current[best]! -= total;
    cycle.push(agents[best]!.id);
  }
  return cycle;
}

/**
 * One step of a rotation (round robin, weighted): from `position` in `cycle`, the first agent who may take the lead
 * and the position after them; undefined when nobody may. The store runs the same walk in SQL for its one-statement
 * assignment (`nextPosition` in store/assignments.ts); a property test holds the two to the same answers.
 */
export function rotationStep(
  cycle: readonly string[],
  position: number,
  eligible: (agentId: string) => boolean,
): { agentId: string; nextPosition: number } | undefined {
  for (let step = 0; step < cycle.length; step++) {
    const agentId = cycle[(position + step) % cycle.length]!;
    if (eligible(agentId)) return { agentId, nextPosition: position + step + 1 };
  }
  return undefined;
}

export interface WorkingHours {
  /** Days of the week the agent works, `mon`..`sun`: the day a shift starts. */
  days: string[];
  /** Local `HH:MM` in the agent's time zone; `to` before (or equal to) `from` is a shift that ends the next day. */
  from: string;
  to: string;
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * Whether `at` falls in the agent's working hours, in their time zone. A night shift (`from: "22:00", to: "06:00"`)
 * belongs to the day it starts: Friday's shift covers Saturday 02:00, and Monday 02:00 is Sunday's shift.
 */
export function isWorking(hours: WorkingHours, timeZone: string, at: Date): boolean {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday!);
  const minutes = Number(parts.hour) * 60 + Number(parts.minute);
  const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const [from, to] = [toMinutes(hours.from), toMinutes(hours.to)];
  const worksOn = (offset: number) => hours.days.includes(WEEKDAYS[(weekday + offset + 7) % 7]!);
  if (from < to) return worksOn(0) && minutes >= from && minutes < to;
  return (minutes >= from && worksOn(0)) || (minutes < to && worksOn(-1));
}

/** What the configuration knows of an agent: `available` as declared, and working hours in their time zone. */
export interface AgentSchedule {
  id: string;
  available?: boolean;
  time_zone?: string;
  working_hours?: WorkingHours;
  capacity?: number;
  /** Language tags the agent speaks (`en`, `pt-BR`). */
  languages?: string[];
}

/**
 * The members of a pool (or one agent) that the configuration says may take a lead at `now`, as assignment candidates
 * in declared order (the store adds run-time availability and load).
 */
export function configuredCandidates(
  members: ReadonlyArray<string | WeightedAgent>,
  agents: ReadonlyMap<string, AgentSchedule>,
  now: Date,
): Array<WeightedAgent & { capacity?: number }> {
  return members.flatMap((member) => {
    const agent = agents.get(typeof member === 'string' ? member : member.id);
    if (!agent || agent.available === false) return [];
    if (agent.working_hours && agent.time_zone && !isWorking(agent.working_hours, agent.time_zone, now)) return [];
    return [{ id: agent.id, weight: typeof member === 'string' ? 1 : member.weight, capacity: agent.capacity }];
  });
}

/**
 * Whether an agent who speaks `spoken` serves a customer whose language is `language`: the same primary language
 * (`pt` serves `pt-BR`, `es-MX` serves `es`), ignoring case and `_`/`-`.
 */
export function speaks(spoken: readonly string[] | undefined, language: string | null | undefined): boolean {
  if (!language?.trim() || !spoken?.length) return false;
  const primary = (tag: string) => tag.trim().toLowerCase().replace('_', '-').split('-')[0];
  return spoken.some((tag) => primary(tag) === primary(language));
}
