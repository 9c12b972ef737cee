/**
 * From parsed smaps, the classification and (optionally) runtime
 * statistics to a snapshot's categories and breakdowns. Pure: tested on
 * fixture text. The anonymous pool (anonymous memory no mapping rule
 * identified) is shared out by runtime statistics when there are some:
 * V8's heap (`physical_space_size`), malloc's mmapped chunks (`hblkhd`),
 * the remainder `unattributed`; without statistics it stays one category.
 * @internal
 */
import * as path from 'node:path';
import type { SmapsEntry } from '../kernel/smaps';
import { classify, type Assignment, type ClassifyHints } from './classify';
import type { ExplainBreakdown, ExplainCategory, ExplainTotals, ExplainVma, RuntimeStats } from './types';

const LABELS: Record<string, string> = {
  'object-data': 'data of loaded objects (.data, .bss, relro)',
  'mapped-files': 'mapped files',
  heap: '[heap] (brk: malloc main arena)',
  'main-stack': 'main thread stack',
  'thread-stacks': 'thread stacks',
  'malloc-arenas': 'malloc arenas (non-main)',
  'malloc-mmapped': 'malloc mmapped chunks',
  pagewise: 'pagewise mappings and arenas',
  shared: 'shared memory',
  kernel: 'kernel (vdso, vvar)',
  anonymous: 'other anonymous memory',
  'v8-heap': 'V8 heap (256 KiB pages)',
  unattributed: 'unattributed',
};

function labelOf(a: Assignment): string {
  if (a.kind === 'code') return `code ${path.basename(a.id.slice('code:'.length))}`;
  return LABELS[a.id] ?? a.id;
}

type Sums = { rss: number; pss: number; private: number; swap: number; anonHuge: number; size: number; vmaCount: number };
const zero = (): Sums => ({ rss: 0, pss: 0, private: 0, swap: 0, anonHuge: 0, size: 0, vmaCount: 0 });

function privateOf(e: SmapsEntry): number {
  return (e.fields.Private_Clean ?? 0) + (e.fields.Private_Dirty ?? 0);
}

function add(s: Sums, e: SmapsEntry): void {
  s.rss += e.rss;
  s.pss += e.pss;
  s.private += privateOf(e);
  s.swap += e.swap;
  s.anonHuge += e.anonHugePages;
  s.size += e.size;
  s.vmaCount++;
}

function addSums(s: Sums, x: Sums): void {
  s.rss += x.rss;
  s.pss += x.pss;
  s.private += x.private;
  s.swap += x.swap;
  s.anonHuge += x.anonHuge;
  s.size += x.size;
  s.vmaCount += x.vmaCount;
}

/**
 * One entry split in two: `fraction` of its resident pages (rounded to
 * pages; `pages` present pages where they were counted) with `bytes` of its size, and the rest. Pss, private, swap and THP
 * follow the resident fraction; the VMA is counted once, with the rest.
 */
function splitEntry(e: SmapsEntry, fraction: number, bytes: number, page: number, pages?: number): [Sums, Sums] {
  const rss = Math.min(e.rss, pages !== undefined ? pages * page : Math.round((e.rss * fraction) / page) * page);
  const f = e.rss > 0 ? rss / e.rss : 0;
  const part = (v: number): number => Math.min(v, Math.round(v * f));
  const mine: Sums = { rss, pss: part(e.pss), private: part(privateOf(e)), swap: part(e.swap), anonHuge: part(e.anonHugePages), size: Math.min(bytes, e.size), vmaCount: 0 };
  const rest: Sums = {
    rss: e.rss - mine.rss, pss: e.pss - mine.pss, private: privateOf(e) - mine.private, swap: e.swap - mine.swap, anonHuge: e.anonHugePages - mine.anonHuge,
    size: e.size - mine.size, vmaCount: 1,
  };
  return [mine, rest];
}

/** What {@link attribute} returns. */
export interface Attribution {
  totals: Omit<ExplainTotals, 'pageTables' | 'rollupRss' | 'guardPages' | 'ksm'> & { ksm: number | null };
  categories: ExplainCategory[];
  breakdowns: ExplainBreakdown[];
  vmas?: ExplainVma[];
  /** The process runs V8. */
  node: boolean;
}

/**
 * Categories of a process from its smaps entries. `runtime` (the calling
 * process, or a child's agent) splits the anonymous pool; `detail` adds
 * per-VMA rows.
 */
export function attribute(entries: readonly SmapsEntry[], hints: ClassifyHints, runtime: RuntimeStats | null, detail = false): Attribution {
  // V8's page shape applies to Node processes: those reporting V8 statistics or running a node binary / libnode.
  const node = runtime !== null || entries.some((e) => e.perms[2] === 'x' && /\/(node|nodejs|libnode\.so[.\d]*)$/.test(e.pathname));
  const assigned = classify(entries, { ...hints, v8: hints.v8 ?? node });
  const sums = new Map<string, { a: Assignment; s: Sums; evidence: Record<string, number> }>();
  const totals = { rss: 0, pss: 0, uss: 0, swap: 0, anonHuge: 0, vmas: entries.length, sealedVmas: 0, sealedBytes: 0, ksm: null as number | null };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const a = assigned[i]!;
    let c = sums.get(a.id);
    if (!c) sums.set(a.id, (c = { a, s: zero(), evidence: {} }));
    if (a.part) {
      // A merged mapping: the part's share to its owner, the rest stays.
      const [mine, rest] = splitEntry(e, a.part.fraction, a.part.bytes, hints.pageSize, a.part.pages);
      let m = sums.get(a.part.id);
      if (!m) sums.set(a.part.id, (m = { a: { id: a.part.id, kind: a.part.kind, rule: a.part.rule }, s: zero(), evidence: {} }));
      addSums(m.s, mine);
      m.evidence[a.part.rule] = (m.evidence[a.part.rule] ?? 0) + 1;
      addSums(c.s, rest);
    } else add(c.s, e);
    c.evidence[a.rule] = (c.evidence[a.rule] ?? 0) + 1;
    totals.rss += e.rss;
    totals.pss += e.pss;
    if (e.vmFlags.includes('sl')) {
      totals.sealedVmas++;
      totals.sealedBytes += e.size;
    }
    totals.uss += privateOf(e);
    totals.swap += e.swap;
    totals.anonHuge += e.anonHugePages;
    const ksm = e.fields.KSM;
    if (ksm !== undefined) totals.ksm = (totals.ksm ?? 0) + ksm;
  }
  const categories: ExplainCategory[] = [];
  for (const { a, s, evidence } of sums.values()) {
    if (a.id === 'anonymous' && runtime) continue; // shared out below
    categories.push({ id: a.id, kind: a.kind, label: labelOf(a), ...s, source: 'vma', estimate: false, evidence });
  }
  const v8 = categories.find((c) => c.id === 'v8-heap');
  if (v8 && runtime) {
    const physical = runtime.v8Spaces.reduce((t, x) => t + x.physical, 0);
    v8.estimate = true;
    v8.statistic = 'v8.getHeapSpaceStatistics() physical_space_size, for comparison';
    v8.parts = runtime.v8Spaces.filter((x) => x.physical > 0).map((x) => ({ name: x.name, bytes: x.physical }));
    v8.note = `V8's pages found by their shape (256 KiB-aligned anonymous read-write mappings): a merged neighbour would be counted in; ` +
      `V8 itself reports ${physical} bytes physical (parts, by space); its code space inside the code range is not in this shape and stays in the anonymous pool`;
  }
  else if (v8) {
    v8.estimate = true;
    v8.note = 'V8\'s pages found by their shape (256 KiB-aligned anonymous read-write mappings of a process running node)';
  }
  const pool = sums.get('anonymous');
  const breakdowns: ExplainBreakdown[] = [];
  let unattributed: ExplainCategory | undefined = categories.find((c) => c.id === 'unattributed');
  if (!unattributed) {
    unattributed = { id: 'unattributed', kind: 'unattributed', label: LABELS.unattributed!, ...zero(), source: 'vma', estimate: false, evidence: {} };
    categories.push(unattributed);
  }
  if (runtime) {
    const p = pool?.s ?? zero();
    const shares = splitPool(p, runtime, sums.has('malloc-mmapped'));
    for (const share of shares.parts) categories.push(share);
    // The remainder joins whatever fitted no rule.
    const rest = shares.rest;
    unattributed.rss += rest.rss;
    unattributed.pss += rest.pss;
    unattributed.private += rest.private;
    unattributed.swap += rest.swap;
    unattributed.anonHuge += rest.anonHuge;
    if (shares.parts.length > 0 && p.vmaCount > 0) {
      unattributed.source = 'runtime';
      unattributed.estimate = true;
      unattributed.statistic = 'anonymous memory left after the runtime statistics';
    }
    if (p.vmaCount > 0) {
      unattributed.vmaCount += p.vmaCount;
      unattributed.size += p.size;
      unattributed.evidence = { ...unattributed.evidence, 'anonymous memory no rule or runtime statistic covers': p.vmaCount };
      unattributed.note = 'anonymous memory that neither a mapping rule nor a runtime statistic accounts for (V8\'s code range, libuv, ICU, addons\' own mmaps)';
    }
    breakdowns.push(...breakdownsOf(runtime, categories));
  } else if (pool) {
    const c = categories.find((x) => x.id === 'anonymous')!;
    c.note = node
      ? 'V8 heap pages not found by shape, large ArrayBuffers, malloc mmapped chunks not found by their headers and other anonymous memory together: only the process itself knows the split (explain() in it, or the CLI\'s `-- node app.js`)'
      : 'anonymous memory no rule names: the program\'s own mmaps, or an allocator other than glibc malloc';
    // pagewise loaded, its list of regions not known here (another process without the agent): its unnamed memory is in this pool.
    if (!hints.pagewiseRanges && entries.some((e) => /\/pagewise\.node$/.test(e.pathname))) {
      // pagewise names its anonymous memory by default where the kernel can: then only what a program unnamed is here.
      c.note += entries.some((e) => e.anonName?.startsWith('pagewise') === true)
        ? '; pagewise.node is loaded: its mappings named [anon:pagewise...] (the default) are under pagewise, any it made unnamed with name(null) are in here'
        : '; pagewise.node is loaded and its list of regions cannot be read from outside the process, so pagewise\'s unnamed mappings are in here (name them, or start the program with `pagewise explain -- node app.js`, to see them as pagewise)';
    }
  }
  // Largest first, unattributed last.
  categories.sort((x, y) => (x.id === 'unattributed' ? 1 : y.id === 'unattributed' ? -1 : y.rss - x.rss || x.id.localeCompare(y.id)));
  const out: Attribution = { totals, categories, breakdowns, node };
  if (detail) {
    out.vmas = entries.map((e, i) => ({
      start: e.start, end: e.end, perms: e.perms, pathname: e.pathname, rss: e.rss, pss: e.pss, private: privateOf(e), swap: e.swap,
      category: assigned[i]!.id, rule: assigned[i]!.rule, sealed: e.vmFlags.includes('sl'), guardPages: null,
    }));
  }
  return out;
}

/**
 * Shares the anonymous pool out: first V8's heap (its physical size), then
 * malloc's mmapped chunks (unless glibc named them, then they are a VMA
 * category already), each capped by what is left; the rest is returned.
 * Pss, private and swap follow each share's fraction of the pool's Rss.
 */
function splitPool(pool: Sums, rt: RuntimeStats, mmappedNamed: boolean): { parts: ExplainCategory[]; rest: Sums } {
  // V8's heap is a VMA category (its page shape); malloc's mmapped chunks share the pool.
  const wants: { id: 'malloc-mmapped'; want: number; statistic: string; note: string; parts?: { name: string; bytes: number }[] }[] = [];
  if (!mmappedNamed && rt.malloc) {
    wants.push({
      id: 'malloc-mmapped', want: rt.malloc.hblkhd, statistic: 'mallinfo2() hblkhd',
      note: 'chunks above M_MMAP_THRESHOLD (large ArrayBuffers among them); hblkhd is their virtual size, so untouched pages make it an upper bound',
    });
  }
  // Statistics that together exceed the pool are upper bounds: scale them to it.
  const asked = wants.reduce((s, w) => s + w.want, 0);
  const scale = asked > pool.rss ? pool.rss / asked : 1;
  const parts: ExplainCategory[] = [];
  const taken = { rss: 0, pss: 0, private: 0, swap: 0, anonHuge: 0 };
  for (const w of wants) {
    const rss = Math.min(pool.rss - taken.rss, Math.round(w.want * scale));
    const f = pool.rss > 0 ? rss / pool.rss : 0;
    const c: ExplainCategory = {
      id: w.id, kind: w.id, label: LABELS[w.id]!, rss,
      pss: Math.min(pool.pss - taken.pss, Math.round(pool.pss * f)),
      private: Math.min(pool.private - taken.private, Math.round(pool.private * f)),
      swap: Math.min(pool.swap - taken.swap, Math.round(pool.swap * f)),
      anonHuge: Math.min(pool.anonHuge - taken.anonHuge, Math.round(pool.anonHuge * f)),
      vmaCount: pool.vmaCount, size: pool.size, source: 'runtime', statistic: w.statistic, estimate: true,
      evidence: { 'share of the anonymous pool': pool.vmaCount },
      note: scale < 1 ? `${w.note}; the statistics add up to ${asked} bytes, more than the pool's ${pool.rss} resident bytes, so each share is scaled by ${scale.toFixed(3)}` : w.note,
      ...(w.parts ? { parts: w.parts } : {}),
    };
    taken.rss += c.rss;
    taken.pss += c.pss;
    taken.private += c.private;
    taken.swap += c.swap;
    taken.anonHuge += c.anonHuge;
    parts.push(c);
  }
  const rest: Sums = {
    rss: pool.rss - taken.rss, pss: pool.pss - taken.pss, private: pool.private - taken.private, swap: pool.swap - taken.swap,
    anonHuge: pool.anonHuge - taken.anonHuge, size: pool.size, vmaCount: pool.vmaCount,
  };
  return { parts, rest };
}

/** The runtime figures that lie inside categories, with the overlap stated. */
function breakdownsOf(rt: RuntimeStats, categories: readonly ExplainCategory[]): ExplainBreakdown[] {
  const has = (id: string): boolean => categories.some((c) => c.id === id);
  const mallocCats = ['heap', 'malloc-arenas', 'malloc-mmapped'].filter(has);
  const out: ExplainBreakdown[] = [];
  if (rt.malloc) {
    out.push({
      id: 'malloc-in-use', label: 'malloc in use', bytes: rt.malloc.uordblks + rt.malloc.hblkhd, statistic: 'mallinfo2() uordblks + hblkhd',
      within: mallocCats, estimate: true, note: 'bytes handed out by glibc malloc (ArrayBuffer backing stores among them); virtual, so a calloc\'d chunk never touched counts here but not in Rss',
    });
    out.push({
      id: 'malloc-free', label: 'malloc free (held by glibc)', bytes: rt.malloc.fordblks, statistic: 'mallinfo2() fordblks',
      within: mallocCats.filter((c) => c !== 'malloc-mmapped'), estimate: true,
      note: 'free chunks glibc keeps in [heap] and the arenas; growth with flat use is fragmentation (try MALLOC_ARENA_MAX=2, malloc_trim, or another allocator)',
    });
  }
  out.push({
    id: 'array-buffers', label: 'ArrayBuffer backing stores', bytes: rt.arrayBuffers, statistic: 'process.memoryUsage().arrayBuffers',
    within: mallocCats, estimate: true, note: 'allocated by Node with calloc: inside malloc in use, not added again (large ones are malloc mmapped chunks)',
  });
  out.push({
    id: 'v8-used', label: 'V8 heap used (live objects)', bytes: rt.heapUsed, statistic: 'process.memoryUsage().heapUsed',
    within: ['v8-heap'], estimate: true, note: 'live JS objects inside the V8 heap\'s pages',
  });
  return out;
}
