/**
 * `/proc/<pid>/ksm_stat`: what Kernel Samepage Merging did for one process.
 * The file appeared in Linux 6.1 with `ksm_rmap_items`; `ksm_merging_pages`
 * and `ksm_process_profit` came in 6.4 (with `PR_SET_MEMORY_MERGE`),
 * `ksm_zero_pages` in 6.6, `ksm_merge_any` and `ksm_mergeable` in 6.15 (the
 * patch is of January 2025). It
 * exists only with `CONFIG_KSM`. The counters move only while ksmd runs
 * (`/sys/kernel/mm/ksm/run` = 1); `ksm_mergeable` changes at once.
 */
import * as fs from 'node:fs';
import { linesOf, procPath, ProcParseError, safeInt } from './parse';

/** One process's KSM figures. `null` fields are lines this kernel does not print. */
export interface KsmStat {
  /** `ksm_rmap_items`: rmap items KSM allocated for this process (its own cost: 64 bytes each on 64-bit). */
  rmapItems: number | null;
  /** `ksm_zero_pages`: pages KSM replaced by the shared zero page (only with `use_zero_pages`). Pages, not bytes. */
  zeroPages: number | null;
  /** `ksm_merging_pages`: pages of this process merged with identical pages. Pages, not bytes. */
  mergingPages: number | null;
  /** `ksm_process_profit`: bytes saved minus bytes spent on rmap items; negative when KSM costs this process memory. */
  processProfit: number | null;
  /** `ksm_merge_any`: the whole process was opted in with `prctl(PR_SET_MEMORY_MERGE, 1)`. */
  mergeAny: boolean | null;
  /** `ksm_mergeable`: some mapping of the process is a KSM candidate (`MADV_MERGEABLE`, or merge-any). */
  mergeable: boolean | null;
  /** Every line by its name as in the file: integers as numbers, `yes`/`no` as booleans, anything else as text. */
  fields: Record<string, number | boolean | string>;
}

const KEYS: Record<string, keyof Omit<KsmStat, 'fields'>> = {
  ksm_rmap_items: 'rmapItems', ksm_zero_pages: 'zeroPages', ksm_merging_pages: 'mergingPages',
  ksm_process_profit: 'processProfit', ksm_merge_any: 'mergeAny', ksm_mergeable: 'mergeable',
};

/**
 * Parses `ksm_stat` text. The kernel writes counters as `name value` and the
 * two flags as `name: yes|no`; both forms are accepted for every line. A line
 * that is neither throws {@link ProcParseError}, as does a known counter that
 * is not an integer; a cut last line is dropped.
 */
export function parseKsmStat(text: string): KsmStat {
  const { lines } = linesOf('ksm_stat', text);
  const out: KsmStat = { rmapItems: null, zeroPages: null, mergingPages: null, processProfit: null, mergeAny: null, mergeable: null, fields: {} };
  lines.forEach((line, i) => {
    const m = /^([A-Za-z0-9_]+):?[ \t]+(\S+)$/.exec(line);
    if (!m) throw new ProcParseError('ksm_stat', i + 1, `not "name value": ${JSON.stringify(line.slice(0, 60))}`);
    const [, name, raw] = m as unknown as [string, string, string];
    const value = raw === 'yes' ? true : raw === 'no' ? false : /^-?\d+$/.test(raw) ? safeInt('ksm_stat', i + 1, name, raw) : raw;
    out.fields[name] = value;
    const key = KEYS[name];
    if (key === undefined) return;
    const wantsFlag = key === 'mergeAny' || key === 'mergeable';
    if (wantsFlag !== (typeof value === 'boolean') || typeof value === 'string') {
      throw new ProcParseError('ksm_stat', i + 1, `${name} should be ${wantsFlag ? 'yes or no' : 'an integer'}, got ${JSON.stringify(raw)}`);
    }
    (out as unknown as Record<string, number | boolean>)[key] = value;
  });
  return out;
}

/**
 * Reads `/proc/<pid>/ksm_stat` (default `self`) once. Returns `null` where
 * the file does not exist: a kernel before 6.1 or without `CONFIG_KSM` (or a
 * pid that has exited). A process without memory of its own (a kernel
 * thread) has an empty file: every field `null`.
 */
export function ksmStat(pid: number | 'self' = 'self'): KsmStat | null {
  const path = procPath(pid, 'ksm_stat');
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (text.trim() === '') return { rmapItems: null, zeroPages: null, mergingPages: null, processProfit: null, mergeAny: null, mergeable: null, fields: {} };
  return parseKsmStat(text);
}

