import type { AnyStepDefinition } from './define-step.js';
import assignLead from './assign-lead.js';
import closeDeal from './close-deal.js';
import createTask from './create-task.js';
import filter from './filter.js';
import http from './http.js';
import log from './log.js';
import map from './map.js';
import moveDeal from './move-deal.js';
import openCase from './open-case.js';
import openDeal from './open-deal.js';
import reply from './reply.js';
import score from './score.js';
import setLifecycle from './set-lifecycle.js';
import timeline from './timeline.js';
import upsertCustomer from './upsert-customer.js';
import wait from './wait.js';

/** Every step type, by its YAML `type`. Adding a step type: one module plus one line here. */
export const steps: ReadonlyMap<string, AnyStepDefinition> = new Map(
  [
    map,
    filter,
    upsertCustomer,
    timeline,
    assignLead,
    reply,
    wait,
    createTask,
    setLifecycle,
    score,
    openDeal,
    moveDeal,
    closeDeal,
    openCase,
    http,
    log,
  ].map((step: AnyStepDefinition) => [step.type, step]),
);
