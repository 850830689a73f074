import { readFileSync } from 'node:fs';

/** CPU seconds used and peak resident memory of one process (or a group) over a measured phase. */
export interface ProcessUsage {
  name: string;
  pids: number[];
  cpuSeconds: number;
  /** Peak resident set size in MB seen by the sampler (VmHWM for single processes, which catches peaks between samples). */
  peakRssMb: number;
}

/** Linux clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream kernel). */
const TICKS = 100;

function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields count from after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of the full line)
  } catch {
    return undefined;
  }
}

function readRssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

export interface Watched {
  name: string;
  /** A fixed pid, or a function listing the pids at each sample (a group, such as a database's PostgreSQL backends). */
  pid: number | (() => number[]);
}

/**
 * Samples CPU time and RSS of the watched processes every `everyMs` (200 ms) until `stop()`. CPU is the growth of
 * utime+stime per pid since the first sample it was seen in (a process that exits keeps its last reading).
 */
export function sampleProcesses(
  watched: Watched[],
  everyMs = 200,
): { stop: () => { processes: ProcessUsage[]; machineBusyPercent: number } } {
  const state = watched.map((watch) => ({
    watch,
    first: new Map<number, number>(),
    last: new Map<number, number>(),
    peakKb: 0,
  }));
  const machineStart = machineTicks();
  const sample = () => {
    for (const entry of state) {
      const pids = typeof entry.watch.pid === 'number' ? [entry.watch.pid] : entry.watch.pid();
      let rssKb = 0;
      for (const pid of pids) {
        const ticks = readCpuTicks(pid);
        if (ticks === undefined) continue;
        if (!entry.first.has(pid)) entry.first.set(pid, ticks);
        entry.last.set(pid, ticks);
        const single = typeof entry.watch.pid === 'number';
        rssKb += (single ? readRssKb(pid, 'VmHWM') : undefined) ?? readRssKb(pid, 'VmRSS') ?? 0;
      }
      entry.peakKb = Math.max(entry.peakKb, rssKb);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      const machineEnd = machineTicks();
      const processes = state.map((entry) => {
        let ticks = 0;
        for (const [pid, first] of entry.first) ticks += (entry.last.get(pid) ?? first) - first;
        return {
          name: entry.watch.name,
          pids: [...entry.first.keys()],
          cpuSeconds: Math.round((ticks / TICKS) * 100) / 100,
          peakRssMb: Math.round(entry.peakKb / 102.4) / 10,
        };
      });
      const total = machineEnd.total - machineStart.total;
      return {
        processes,
        machineBusyPercent: total > 0 ? Math.round(((machineEnd.busy - machineStart.busy) / total) * 1000) / 10 : 0,
      };
    },
  };
}
