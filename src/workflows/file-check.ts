import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, formatIssue, loadConfigFile, type LoadOptions } from './load.js';

/** How the workflows file on disk compares with the configuration a process runs. */
export type ConfigFileState =
  | { state: 'in_force' }
  /** Edited and valid: takes effect when the processes restart. */
  | { state: 'changed'; workflows: number }
  /** Edited and invalid: the running configuration stays in force; `issues` read `workflows.yaml:LINE:COL message`. */
  | { state: 'broken'; issues: string[] };

const hashOf = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Remembers the file as it is now (call right after loading it) and returns a check of the file on disk against it,
 * so the dashboard can show an admin's edit — and its errors — before any restart.
 */
export function configFileCheck(path: string, options: LoadOptions): () => ConfigFileState {
  const loaded = hashOf(path);
  return () => {
    try {
      if (hashOf(path) === loaded) return { state: 'in_force' };
      return { state: 'changed', workflows: loadConfigFile(path, options).workflows.length };
    } catch (error) {
      if (error instanceof ConfigError) return { state: 'broken', issues: error.issues.map(formatIssue) };
      return { state: 'broken', issues: [`cannot read ${path}: ${(error as Error).message}`] };
    }
  };
}
