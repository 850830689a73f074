import { readFileSync } from 'node:fs';

/** Reads a file shipped beside a connector module (mappings, samples): `readBeside(import.meta.url, 'mappings/x.jsonata')`. */
export function readBeside(moduleUrl: string, relativePath: string): string {
  return readFileSync(new URL(relativePath, moduleUrl), 'utf8');
}

export function readJsonBeside(moduleUrl: string, relativePath: string): unknown {
  return JSON.parse(readBeside(moduleUrl, relativePath));
}
