/**
 * `explain()`: where every resident byte of a process is, by owner; and
 * `explain.watch()`: the same over time, with deltas and verdicts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readStat } from '../kernel/stat';
import { checkBoolean, checkInteger, checkOptions } from '../validate';
import { invalidType } from '../errors';
import { ProcReader } from '../kernel/reader';
import { runtimeStats } from './runtime';
import { isSelf, snapshotWith } from './snapshot';
import { verdicts } from './verdict';
import type { ExplainOptions, ExplainSample, ExplainSnapshot, WatchOptions } from './types';

export type {
  ExplainOptions, ExplainSnapshot, ExplainCategory, ExplainBreakdown, ExplainTotals, ExplainVma, ExplainVerdict, ExplainSample,
  WatchOptions, RuntimeStats, CategoryKind,
} from './types';
export { verdicts } from './verdict';

function readerFor(pid: number | undefined): ProcReader {
  return new ProcReader(isSelf(pid) ? 'self' : (pid as number));
}

function checkExplainOptions(options: unknown, extra: readonly string[] = []): ExplainOptions & WatchOptions {
  if (options === undefined) return {};
  const o = checkOptions<WatchOptions>('options', options, ['pid', 'detail', 'rollup', ...extra]);
  if (o.pid !== undefined) checkInteger('options.pid', o.pid, 1, 2 ** 22);
  if (o.detail !== undefined) checkBoolean('options.detail', o.detail);
  if (o.rollup !== undefined) checkBoolean('options.rollup', o.rollup);
  return o;
}

/**
 * One snapshot of where a process's resident memory is.
 *
 * Reads `/proc/PID/smaps` once and attributes every mapping to one
 * category (code and read-only data per loaded object, object data, mapped
 * files, `[heap]`, stacks, malloc arenas, pagewise's memory, shared memory,
 * other anonymous memory, unattributed): their `rss` add up to
 * `totals.rss` exactly, which equals `smaps_rollup`'s `Rss` (read right
 * after, `totals.rollupRss`) whenever the process did not change between
 * the two reads. For the calling process the anonymous pool is split further
 * by runtime statistics (V8 heap, malloc mmapped chunks), each marked
 * `source: 'runtime'`, `estimate: true`; `breakdowns` gives figures that lie
 * inside categories (malloc in use and free, ArrayBuffers) without adding
 * them twice.
 *
 * Another process needs ptrace read access (same user, or root); the
 * kernel's `EACCES`/`EPERM` is thrown with a message about permissions and
 * `ptrace_scope`.
 */
function explainOnce(options?: ExplainOptions): ExplainSnapshot {
  const o = checkExplainOptions(options);
  const reader = readerFor(o.pid);
  try {
    return snapshotWith(reader, isSelf(o.pid) ? runtimeStats : null, o.detail === true, o.rollup !== false);
  } finally {
    reader.close();
  }
}

/**
 * Snapshots every `intervalMs` (default 1000) as an async iterator, each with
 * the change since the previous one and verdicts over the series so far
 * (which category grows, by how much per minute, against which stay flat).
 * Ends when the process exits, after `count` snapshots, when `signal`
 * aborts, or when the loop breaks. Keeps one set of descriptors open.
 */
async function* watch(options?: WatchOptions): AsyncGenerator<ExplainSample, void, undefined> {
  const o = checkExplainOptions(options, ['intervalMs', 'count', 'signal', 'runtime', 'staleAfterMs']);
  const interval = o.intervalMs === undefined ? 1000 : checkInteger('options.intervalMs', o.intervalMs, 1, 2 ** 31 - 1);
  const count = o.count === undefined ? Infinity : checkInteger('options.count', o.count, 1);
  if (o.runtime !== undefined && o.runtime !== null && typeof o.runtime !== 'function') throw invalidType('options.runtime', 'a function or null', o.runtime);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidType('options.signal', 'an AbortSignal', o.signal);
  const runtime = o.runtime ?? (isSelf(o.pid) ? runtimeStats : null);
  const staleAfterMs = o.staleAfterMs === undefined ? interval + 250 : checkInteger('options.staleAfterMs', o.staleAfterMs, 0);
  let reader: ProcReader;
  try {
    reader = readerFor(o.pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw err;
  }
  const series: ExplainSnapshot[] = [];
  let prev: ExplainSnapshot | undefined;
  try {
    for (let n = 0; n < count; n++) {
      if (o.signal?.aborted) return;
      let snap: ExplainSnapshot;
      try {
        snap = snapshotWith(reader, runtime, o.detail === true, o.rollup === true, staleAfterMs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ESRCH' && code !== 'ENOENT') throw err;
        // The descriptors were of the process's old memory map: after an
        // exec() it lives on with a new one. Reopen and go on; end when it
        // has exited.
        if (o.pid === undefined || isSelf(o.pid) || !alive(o.pid)) return;
        reader.close();
        try {
          reader = readerFor(o.pid);
          snap = snapshotWith(reader, runtime, o.detail === true, o.rollup === true, staleAfterMs);
        } catch (again) {
          const c = (again as NodeJS.ErrnoException).code;
          if (c === 'ESRCH' || c === 'ENOENT') return;
          throw again;
        }
      }
      series.push(snap);
      if (series.length > 10_000) series.shift(); // hours of 1 s samples; verdicts cover the window kept
      const before = new Map((prev?.categories ?? []).map((c) => [c.id, c.rss]));
      const delta: Record<string, number> = {};
      for (const c of snap.categories) delta[c.id] = c.rss - (before.get(c.id) ?? 0);
      for (const [id, rss] of before) if (!(id in delta)) delta[id] = -rss;
      yield {
        ...snap,
        elapsedMs: snap.time - series[0]!.time,
        delta: { rss: snap.totals.rss - (prev?.totals.rss ?? 0), categories: delta },
        verdicts: verdicts(series),
      };
      prev = snap;
      if (n + 1 < count) {
        try {
          await sleep(interval, undefined, o.signal ? { signal: o.signal } : {});
        } catch {
          return; // aborted
        }
      }
    }
  } finally {
    reader.close();
  }
}

/** Whether process `pid` still runs (exists and is not a zombie). */
function alive(pid: number): boolean {
  try {
    const state = readStat(pid).state;
    return state !== 'Z' && state !== 'X' && state !== 'x';
  } catch {
    return false;
  }
}

/** {@link explainOnce} with `watch` attached: `explain()` and `explain.watch()`. */
export const explain: typeof explainOnce & { watch: typeof watch } = Object.assign(explainOnce, { watch });
