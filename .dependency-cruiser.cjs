/**
 * The allowed directions of crmflow's modules, written once and checked by `npm test` (tests/architecture.test.ts).
 *
 *   entrances      src/http, src/dashboard, src/cli         (src/runtime.ts composes the processes)
 *      ↓
 *   operations     src/operations                           every action a person or the API takes
 *      ↓
 *   engine, store  src/engine, src/store                    the only code that touches src/store
 *      ↓            (the workflow loader, src/workflows/{load,schema,mapping-cases,file-check}.ts, assembles the
 *      ↓             step and trigger registries: it sits beside the engine and below nothing that imports it)
 *   primitives     src/customers, src/workflows/{expression,template,duration,ajv,config-types}.ts
 *      ↓
 *   connectors, config
 *
 * Imports go down (skipping layers is fine), never up, never in a circle: `import type` counts too.
 */
const ENTRANCES = '^src/(http|dashboard|cli)/';
const LOADER = '^src/workflows/(load|schema|mapping-cases|file-check)[.]ts$';
const PRIMITIVES = '^src/(customers/|workflows/(expression|template|duration|ajv|config-types)[.]ts$)';
const ABOVE_PRIMITIVES = `^src/(engine|store|operations|http|dashboard|cli|observability|mail)/|^src/runtime[.]ts$|${LOADER}`;
/**
 * A resource's routes (src/http/api/<resource>.ts, src/dashboard/pages/<page>.ts) take their options type from the
 * module that mounts them (ApiOptions from src/http/api.ts, DashboardOptions from src/dashboard/routes.ts): that
 * type-only loop is the one allowed; any value import back into the mounting module is refused below.
 */
const MOUNTED = '^src/(http/api([.]ts$|/[^/]+[.]ts$)|dashboard/(routes[.]ts$|pages/[^/]+[.]ts$))';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not depend on each other in a circle, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true, via: { pathNot: MOUNTED } },
    },
    {
      name: 'mounted-routes-import-options-types-only',
      comment: 'Resource routers may import only types (their options) from the module that mounts them.',
      severity: 'error',
      from: { path: '^src/(http/api|dashboard/pages)/' },
      to: { path: '^src/(http/api|dashboard/routes)[.]ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'store-only-below-operations',
      comment: 'Only the engine, the operations and the store itself use src/store: entrances act through operations.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(engine|operations|store)/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'operations-not-up',
      comment: 'Operations are called by the entrances, never the other way round.',
      severity: 'error',
      from: { path: '^src/operations/' },
      to: { path: `${ENTRANCES}|^src/runtime[.]ts$` },
    },
    {
      name: 'engine-store-not-up',
      comment: 'The engine and the store know nothing of operations or entrances.',
      severity: 'error',
      from: { path: '^src/(engine|store)/' },
      to: { path: `^src/operations/|${ENTRANCES}|^src/runtime[.]ts$` },
    },
    {
      name: 'store-not-engine',
      comment:
        'The store is the bottom of its layer: repositories import no engine code (record types live with the customers).',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/engine/' },
    },
    {
      name: 'loader-not-up',
      comment:
        'The workflow loader assembles the extension points (steps, triggers, hours, reply policy) and nothing above them.',
      severity: 'error',
      from: { path: LOADER },
      to: {
        path: `^src/(store|operations|http|dashboard|cli)/|^src/runtime[.]ts$|^src/engine/(?!(steps|triggers|reply-policy)/|opening-hours[.]ts$|send-window[.]ts$|sla-option[.]ts$)`,
      },
    },
    {
      name: 'extension-points-not-loader',
      comment:
        'Steps and triggers use the primitives (expressions, templates, durations), never the loader that registers them.',
      severity: 'error',
      from: {
        path: '^src/engine/(steps|triggers|reply-policy)/|^src/engine/(opening-hours|send-window|sla-option)[.]ts$',
      },
      to: { path: LOADER },
    },
    {
      name: 'primitives-not-up',
      comment: 'Customers and workflow primitives are pure: no engine, store, loader or entrance.',
      severity: 'error',
      from: { path: PRIMITIVES },
      to: { path: ABOVE_PRIMITIVES },
    },
    {
      name: 'connectors-config-at-the-bottom',
      comment: 'Connectors and configuration import only each other (and node_modules).',
      severity: 'error',
      from: { path: '^src/(connectors|config)/' },
      to: { path: '^src/', pathNot: '^src/(connectors|config)/' },
    },
    {
      name: 'entrances-apart',
      comment: 'The HTTP app mounts the dashboard; the dashboard and the CLI import no other entrance.',
      severity: 'error',
      from: { path: '^src/(dashboard|cli)/' },
      to: { path: '^src/(http|dashboard|cli)/', pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
