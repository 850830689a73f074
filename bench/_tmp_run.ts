import { createTestDatabase } from '../tests/helpers/db.js';
import { seedReports } from '../bench/reports-seed.js';
import { kpis, cohorts, reportsOverview } from '../src/operations/reports.js';
const db = await createTestDatabase();
let t = performance.now();
await seedReports(db.pool, 100_000);
console.log('seed', ((performance.now() - t) / 1000).toFixed(1), 's');
const ctx: any = { pool: db.pool, config: { config: {} } };
const today = new Date().toISOString().slice(0, 10);
const from = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
for (const [name, fn] of [['kpis 30d', () => kpis(ctx, { from, to: today })], ['kpis 30d by source', () => kpis(ctx, { from, to: today, by: 'source' })], ['kpis 365d', () => kpis(ctx, { from: '2025-12-08', to: today })], ['cohorts', () => cohorts(ctx, { from: '2025-12-01', to: today })], ['overview', () => reportsOverview(ctx, {})]] as const) {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) { const s = performance.now(); await (fn as any)(); times.push(performance.now() - s); }
  console.log(name, times.map((x) => x.toFixed(0)).join(' '));
}
await db.drop();
