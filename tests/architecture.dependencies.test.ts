import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

/**
 * The layering of .dependency-cruiser.cjs (entrances → operations → engine/store → primitives → connectors/config,
 * no cycles, src/store only below the operations) holds for every module in src. A violation prints the import that
 * breaks it.
 */
it('every import in src goes in an allowed direction, and none runs in a circle', async () => {
  const run = promisify(execFile);
  const result = await run(
    'node_modules/.bin/depcruise',
    ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { timeout: 120_000 },
  ).then(
    ({ stdout }) => ({ ok: true, output: stdout }),
    (error: { stdout?: string; stderr?: string }) => ({
      ok: false,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );
  expect(result.ok, result.output).toBe(true);
});
