#!/usr/bin/env node
// Production runs the compiled JavaScript in dist/ (`npm run build`); development runs the TypeScript sources through
// tsx, so no build step is needed to try or change crmflow. CRMFLOW_RUN_FROM=dist|src overrides the choice.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const from =
  process.env.CRMFLOW_RUN_FROM || (process.env.NODE_ENV === 'production' && existsSync(compiled) ? 'dist' : 'src');
if (from === 'dist') {
  if (!existsSync(compiled)) {
    process.stderr.write('crmflow: CRMFLOW_RUN_FROM=dist but dist/ is not built: run `npm run build`\n');
    process.exit(1);
  }
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
