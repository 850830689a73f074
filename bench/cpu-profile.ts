import { relative } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) the summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Share of samples where the process was idle (waiting on I/O). */
  idlePercent: number;
  topFunctions: ProfileEntry[];
  topModules: ProfileEntry[];
}

/** Where a function lives: an npm package, a crmflow source file, a Node internal, or a V8 pseudo-frame. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const source = /\/(src\/.*|bench\/.*|bin\/.*)$/.exec(url);
  return source ? source[1]! : url;
}

/** Self time per function and per module, largest first. */
export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const module = moduleOf(frame.url, frame.functionName);
    const name = `${frame.functionName || '(anonymous)'} ${module}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us / 100) / 10,
        percent: busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0,
      }));
  // Relative to the repository, so results.json carries no machine paths.
  return {
    file: relative(process.cwd(), file),
    totalMs: Math.round(total / 1000),
    idlePercent: total > 0 ? Math.round((idle / total) * 1000) / 10 : 0,
    topFunctions: rank(functions),
    topModules: rank(modules),
  };
}

/** Markdown for one summary: percentages are of the non-idle time. */
export function profileMarkdown(title: string, summary: ProfileSummary): string {
  const lines = [
    `#### ${title}`,
    '',
    `${summary.totalMs} ms profiled, ${summary.idlePercent}% idle. Self time, share of busy time:`,
    '',
  ];
  lines.push('| module | self ms | % |', '| --- | ---: | ---: |');
  for (const entry of summary.topModules) lines.push(`| \`${entry.name}\` | ${entry.selfMs} | ${entry.percent} |`);
  lines.push('', '| function | self ms | % |', '| --- | ---: | ---: |');
  for (const entry of summary.topFunctions) lines.push(`| \`${entry.name}\` | ${entry.selfMs} | ${entry.percent} |`);
  return lines.join('\n');
}

// `tsx bench/cpu-profile.ts FILE.cpuprofile...` prints the summaries.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of process.argv.slice(2))
    process.stdout.write(`${profileMarkdown(file, summarizeProfile(file, 25))}\n\n`);
}
