import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { limitWorkerHeapGrowth } from '../src/cli/worker-heap.js';

const MODULE = fileURLToPath(new URL('../src/cli/worker-heap.ts', import.meta.url));

/**
 * The old space's largest size, in MB, in a fresh node process that promotes a steady stream of garbage (objects held
 * across a few scavenges by a sliding window, as in-flight runs hold theirs) while about 25 MB stay live.
 */
function peakOldSpaceMb(limited: boolean): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    if (${limited}) (await import(${JSON.stringify(MODULE)})).limitWorkerHeapGrowth();
    const window = [];
    let peak = 0;
    for (let i = 0; i < 2_500_000; i++) {
      window.push({ id: i, text: 'payload ' + i, list: [i] });
      if (window.length > 150_000) window.splice(0, 30_000);
      if (i % 50_000 === 0)
        peak = Math.max(peak, getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_size);
    }
    process.stdout.write(String(peak / 1048576));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return Number(out);
}

describe('a worker process limits its heap growth', () => {
  it('keeps the old generation near what is live, where V8 by default lets promoted garbage pile up', () => {
    const unlimited = peakOldSpaceMb(false);
    const limited = peakOldSpaceMb(true);
    expect(limited).toBeLessThan(unlimited * 0.75);
  });

  it('leaves a --heap-growing-percent given to node on the command line alone', () => {
    expect(limitWorkerHeapGrowth(['--heap-growing-percent=50'])).toBeUndefined();
    expect(limitWorkerHeapGrowth(['--heap_growing_percent=50'])).toBeUndefined();
  });
});
