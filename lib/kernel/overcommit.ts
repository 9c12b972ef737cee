/** `/proc/sys/vm/overcommit_memory`, `overcommit_ratio`, `overcommit_kbytes`, `max_map_count`. */
import * as fs from 'node:fs';
import { checkObject } from '../validate';
import { ProcParseError, safeInt } from './parse';

/** The kernel's overcommit policy and mapping limit. */
export interface Overcommit {
  /** `overcommit_memory`: 0 heuristic, 1 always, 2 strict (commit limit enforced). */
  overcommitMemory: number;
  /** `overcommit_ratio`: percent of RAM in the commit limit under mode 2. */
  overcommitRatio: number;
  /** `overcommit_kbytes` in bytes (when non-zero it replaces the ratio). */
  overcommitBytes: number;
  /** `max_map_count`: mappings (VMAs) a process may have. */
  maxMapCount: number;
}

/** The four files' text by name (`overcommit_memory`, `overcommit_ratio`, `overcommit_kbytes`, `max_map_count`). */
export interface OvercommitFiles {
  overcommit_memory: string;
  overcommit_ratio: string;
  overcommit_kbytes: string;
  max_map_count: string;
}

/** Parses the four sysctl files. Throws {@link ProcParseError} on a missing or non-numeric one. */
export function parseOvercommit(files: OvercommitFiles): Overcommit {
  checkObject('files', files);
  const n = (name: keyof OvercommitFiles): number => {
    const t = files[name];
    if (typeof t !== 'string' || t.trim() === '') throw new ProcParseError(name, 0, 'missing or empty');
    return safeInt(name, 1, name, t.trim());
  };
  const mode = n('overcommit_memory');
  if (mode < 0 || mode > 2) throw new ProcParseError('overcommit_memory', 1, `expected 0, 1 or 2, got ${mode}`);
  return { overcommitMemory: mode, overcommitRatio: n('overcommit_ratio'), overcommitBytes: n('overcommit_kbytes') * 1024, maxMapCount: n('max_map_count') };
}

/** Reads the four files from `/proc/sys/vm/` once each. */
export function readOvercommit(): Overcommit {
  const r = (name: string): string => fs.readFileSync(`/proc/sys/vm/${name}`, 'utf8');
  return parseOvercommit({
    overcommit_memory: r('overcommit_memory'), overcommit_ratio: r('overcommit_ratio'),
    overcommit_kbytes: r('overcommit_kbytes'), max_map_count: r('max_map_count'),
  });
}
