/**
 * Attribution of a process's mappings (VMAs) to owners, from what the kernel
 * says about each mapping: its path, permissions, name and neighbours, plus
 * the threads' stack pointers. A pure function over parsed `smaps` entries,
 * so it is tested on text captured from real processes; every VMA lands in
 * exactly one category (a partition), which is what makes the categories'
 * `Rss` add up to `smaps_rollup`'s.
 * @internal
 */
import type { SmapsEntry } from '../kernel/smaps';

/** What kind of owner a category stands for. */
export type CategoryKind =
  | 'code'
  | 'object-data'
  | 'mapped-files'
  | 'heap'
  | 'main-stack'
  | 'thread-stacks'
  | 'malloc-arenas'
  | 'malloc-mmapped'
  | 'pagewise'
  | 'shared'
  | 'kernel'
  | 'anonymous'
  | 'v8-heap'
  | 'unattributed';

/** The evidence that put VMAs in a category. */
export interface ClassifyHints {
  /**
   * Stack pointers of the process's threads other than the main one
   * (`/proc/PID/task/TID/syscall`, second-last field). A VMA holding one is
   * that thread's stack, exactly.
   */
  threadStackPointers: readonly bigint[];
  /**
   * The address ranges pagewise's own mappings and arenas hold in every
   * thread of the process, workers included (the addon's list of its
   * regions: `[start, end, ...]`), for explain() of its own process. A VMA inside one is pagewise's,
   * exactly; one that merged with memory outside it is not claimed.
   */
  pagewiseRanges?: BigUint64Array;
  /**
   * glibc's `heap_info` header at the start of a candidate non-main arena
   * heap (read from `/proc/PID/mem`), or `null` when unreadable. Absent:
   * the 64 MiB-aligned shape alone decides.
   */
  heapInfo?: (start: bigint) => { arena: bigint; size: number; mprotectSize: number } | null;
  /**
   * The link-time extent of an object's PT_LOAD segments (its ELF program
   * headers), or null when unknown. Absent or null: an anonymous mapping
   * right after an object's data is taken as its `.bss` by shape alone.
   */
  elfLoads?: (pathname: string) => { firstVaddr: bigint; end: bigint } | null;
  /**
   * The process is a Node (V8) process: its heap pages are anonymous
   * read-write mappings aligned to V8's 256 KiB page (MemoryChunk alignment,
   * kPageSizeBits = 18 on 64-bit), placed at random addresses away from
   * other mappings. Only set when the process reports V8 statistics.
   */
  v8?: boolean;
  /**
   * Whether [start, end) is wholly glibc mmapped chunks: walking the chunk
   * headers (size with IS_MMAPPED, page multiples) from `start` ends exactly
   * at `end` (read from `/proc/PID/mem`). Absent: not checked.
   */
  mallocChunks?: (start: bigint, end: bigint) => boolean;
  /**
   * glibc mmapped chunks found in [start, end) by their headers, the mapping
   * possibly merged by the kernel with neighbouring memory (`exact`: the
   * chunks must cover it from its start, as for V8-shaped mappings where a
   * scan would cost too much). `present`: present pages of the range;
   * `presentInChunks`: those inside chunks. Used before `mallocChunks`.
   */
  mallocScan?: (start: bigint, end: bigint, exact: boolean) => { bytes: number; present: number; presentInChunks: number; whole: boolean } | null;
  /** Present pages in [start, end) (the pagewise's pagemap), or null when unknown. */
  presentPages?: (start: bigint, end: bigint) => number | null;
  /** The page size of the kernel that wrote the text (rounds the `.bss` end). */
  pageSize: number;
}

/** One VMA's category, with the rule that put it there. */
export interface Assignment {
  /** Category id: `code:/usr/bin/node`, `heap`, `thread-stacks`, ... */
  id: string;
  kind: CategoryKind;
  /** The rule, for the category's `evidence` (e.g. `'stack pointer'`, `'guard page + stack shape'`). */
  rule: string;
  /**
   * Part of a mapping the kernel merged from memory of two owners: glibc
   * mmapped chunks found by their headers, or a range pagewise holds. The
   * share of the mapping's present pages in that part (`fraction`) and its
   * virtual bytes go to category `id`; the rest stays with the assignment.
   * `pages`, where given, is the part's present pages as counted in the page
   * tables: its resident size then follows that count, not the fraction of an
   * Rss read earlier (the other owner's part may change in between).
   */
  part?: { id: string; kind: CategoryKind; rule: string; fraction: number; bytes: number; pages?: number };
}

/**
 * glibc's non-main arena heaps are HEAP_MAX_SIZE-aligned reservations of
 * HEAP_MAX_SIZE bytes (2 * DEFAULT_MMAP_THRESHOLD_MAX: 64 MiB on 64-bit),
 * read-write from the start up to what the arena uses, PROT_NONE after
 * (glibc malloc/arena.c, new_heap).
 */
export const GLIBC_HEAP_MAX = 64 * 1024 * 1024;

/**
 * glibc's default M_MMAP_THRESHOLD: chunks are mmapped from 128 KiB up (the
 * threshold only rises from there unless a program lowers it with mallopt);
 * smaller mappings are not walked. A chunk's header page is written, so a
 * mapping with nothing resident is not one either.
 */
const MMAP_THRESHOLD = 128 * 1024;
/**
 * The largest mapping whose pages are walked one by one in the pagemap (the
 * malloc chunk scan, the split of pagewise memory merged with a neighbour):
 * the walk costs a read per page, present or not, so a reservation of
 * terabytes (AddressSanitizer's shadow, a MAP_NORESERVE cage) would take
 * hours. A larger mapping keeps its category without the walk.
 */
const WALK_MAX_BYTES = 4 * 1024 ** 3;

/** V8's page (MemoryChunk) alignment on 64-bit: 256 KiB. */
const V8_PAGE = 256n * 1024n;

/**
 * V8 asks for its heap pages at random addresses below
 * kAllocationRandomAddressMax (0x3FFFFFFFF000 on x64 and arm64), away from
 * the kernel's mmap area (0x7f... on x64, 0xffff... on arm64) where other
 * large anonymous mappings land, THP-aligned (so also 256 KiB-aligned) on
 * kernels that align them.
 */
const V8_HINT_MAX = 0x400000000000n;

/** Pseudo-paths of the kernel's own special mappings. */
const KERNEL = /^\[(vdso|vvar|vvar_vclock|vsyscall|uprobes|sigpage|vectors)\]$/;

function isAnon(e: SmapsEntry): boolean {
  return e.inode === 0 && (e.pathname === '' || e.anonName !== null);
}

/** Shared memory: SysV segments, POSIX shm, memfd, shared anonymous memory. */
function isSharedMemory(e: SmapsEntry): boolean {
  if (e.perms[3] !== 's') return false;
  const p = e.pathname;
  return p === '' || p.startsWith('/dev/shm/') || p.startsWith('/SYSV') || p.startsWith('/memfd:') || p.startsWith('/dev/zero') ||
    p.startsWith('[anon_shmem:') || e.anonName !== null;
}

/**
 * Assigns every entry to a category. Order of the rules (first match wins):
 * kernel special mappings; `[heap]`; `[stack]`; shared memory; pagewise's
 * named memory (`[anon:pagewise...]`); glibc's own names (2.39+
 * `glibc.mem.decorate_maps`); file mappings (code and read-only data of
 * every object with an executable mapping, writable object data, other
 * mapped files); thread stacks (a thread's stack pointer inside, or the
 * guard-page-then-stack shape glibc makes); glibc arena heaps (64 MiB
 * aligned, read-write then PROT_NONE to the 64 MiB boundary, `heap_info`
 * checked where readable); an object's `.bss` (anonymous right after its
 * last writable file mapping); the rest of anonymous memory; and whatever
 * fits no rule is `unattributed`.
 */
export function classify(entries: readonly SmapsEntry[], hints: ClassifyHints): Assignment[] {
  const out: Assignment[] = new Array(entries.length);
  // Objects that have an executable file mapping: their read-only mappings are code and rodata.
  const objects = new Set<string>();
  for (const e of entries) if (e.inode !== 0 && e.perms[2] === 'x') objects.add(e.pathname);
  const sps = [...hints.threadStackPointers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const holdsSp = (e: SmapsEntry): boolean => {
    // binary search for the first sp >= start
    let lo = 0;
    let hi = sps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sps[mid]! < e.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < sps.length && sps[lo]! < e.end;
  };
  // pagewise's held ranges, sorted by start and merged where they overlap or
  // touch (a mapping attached in several threads is listed once per thread).
  const ranges: [bigint, bigint][] = [];
  const hr = hints.pagewiseRanges;
  if (hr) for (let k = 0; k + 1 < hr.length; k += 2) ranges.push([hr[k]!, hr[k + 1]!]);
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const held: [bigint, bigint][] = [];
  for (const r of ranges) {
    const last = held[held.length - 1];
    if (last && r[0] <= last[1]) {
      if (r[1] > last[1]) last[1] = r[1];
    } else held.push([r[0], r[1]]);
  }
  const insideHeld = (e: SmapsEntry): boolean => {
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (held[mid]![0] <= e.start) lo = mid + 1;
      else hi = mid;
    }
    // The last range starting at or below e.start.
    return lo > 0 && e.end <= held[lo - 1]![1];
  };
  /** The parts of `e` inside ranges pagewise holds. */
  const overlapHeld = (e: SmapsEntry): [bigint, bigint][] => {
    const out: [bigint, bigint][] = [];
    for (const [s, t] of held) {
      if (t <= e.start || s >= e.end) continue;
      out.push([s > e.start ? s : e.start, t < e.end ? t : e.end]);
    }
    return out;
  };
  const heapMax = BigInt(GLIBC_HEAP_MAX);
  const page = BigInt(hints.pageSize);
  // glibc's default guard is one page (pthread_attr_setguardsize); allow up to 64 KiB.
  const guardMax = Math.max(64 * 1024, hints.pageSize);
  // Load address of each object: its first mapping (file offset 0) less the first PT_LOAD's page.
  const loadStart = new Map<string, bigint>();
  for (const e of entries) if (e.inode !== 0 && e.offset === 0n && objects.has(e.pathname) && !loadStart.has(e.pathname)) loadStart.set(e.pathname, e.start);
  /** How `e`, anonymous right after `obj`'s data, relates to obj's .bss: 'bss' (ends at the .bss end), 'shape' (unknown), or 'no'. */
  const bss = (obj: string, e: SmapsEntry): 'bss' | 'shape' | 'no' => {
    const loads = hints.elfLoads ? hints.elfLoads(obj) : null;
    const start = loadStart.get(obj);
    if (!loads || start === undefined) return 'shape';
    const base = start - (loads.firstVaddr - (loads.firstVaddr % page));
    const end = base + ((loads.end + page - 1n) / page) * page;
    return e.end === end ? 'bss' : 'no';
  };
  const mallocCandidate = (e: SmapsEntry): boolean => e.perms === 'rw-p' && e.anonName === null && e.inode === 0 && e.rss > 0 && e.size >= MMAP_THRESHOLD && e.size <= WALK_MAX_BYTES;
  const v8Shape = (e: SmapsEntry): boolean => hints.v8 === true && e.start % V8_PAGE === 0n && e.start < V8_HINT_MAX;
  type Scan = { bytes: number; present: number; presentInChunks: number; whole: boolean };
  const scan = (e: SmapsEntry): Scan | null => {
    if (hints.mallocScan) return hints.mallocScan(e.start, e.end, v8Shape(e));
    if (hints.mallocChunks) return hints.mallocChunks(e.start, e.end) ? { bytes: e.size, present: 0, presentInChunks: 0, whole: true } : null;
    return null;
  };
  // One assignment object per (rule, id), shared by the entries it names (a
  // part is added to a copy): thousands of VMAs make a few dozen.
  const made = new Map<string, Map<string, Assignment>>();
  let i = 0;
  const set = (id: string, kind: CategoryKind, rule: string): void => {
    let byId = made.get(rule);
    if (byId === undefined) made.set(rule, (byId = new Map()));
    let a = byId.get(id);
    if (a === undefined) byId.set(id, (a = { id, kind, rule }));
    out[i] = a;
  };
  for (i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    let mc: Scan | null = null;
    const prev = i > 0 ? entries[i - 1] : undefined;
    const next = entries[i + 1];
    const p = e.pathname;
    if (KERNEL.test(p)) set('kernel', 'kernel', 'kernel special mapping');
    else if (p === '[heap]') set('heap', 'heap', '[heap] (brk: glibc main arena)');
    else if (p === '[stack]') set('main-stack', 'main-stack', '[stack]');
    else if (/^\[stack:\d+\]$/.test(p)) set('thread-stacks', 'thread-stacks', '[stack:TID]');
    else if (isSharedMemory(e)) set('shared', 'shared', 'shared memory (shm, SysV, memfd, shared anonymous)');
    else if (e.anonName !== null && e.anonName.startsWith('pagewise')) set('pagewise', 'pagewise', `[anon:pagewise...] name`);
    // Anonymous only: a file pagewise maps is a mapped file (or object data) like any other.
    else if (e.inode === 0 && insideHeld(e)) set('pagewise', 'pagewise', 'inside a range pagewise holds (its own list of live mappings)');
    else if (e.anonName !== null && /^ ?glibc: malloc arena/.test(e.anonName)) set('malloc-arenas', 'malloc-arenas', 'glibc name (decorate_maps)');
    else if (e.anonName !== null && /^ ?glibc: (loader )?malloc/.test(e.anonName)) set('malloc-mmapped', 'malloc-mmapped', 'glibc name (decorate_maps)');
    else if (e.anonName !== null && /^ ?glibc: pthread stack/.test(e.anonName)) set('thread-stacks', 'thread-stacks', 'glibc name (decorate_maps)');
    else if (e.inode !== 0) {
      if (objects.has(p) && e.perms[1] !== 'w') set(`code:${p}`, 'code', 'read-only mapping of an object with executable code');
      else if (objects.has(p)) set('object-data', 'object-data', 'writable mapping of a loaded object');
      else set('mapped-files', 'mapped-files', 'file mapping');
    } else if (!isAnon(e)) set('unattributed', 'unattributed', 'no rule matched');
    else if (e.perms.startsWith('rw') && holdsSp(e)) set('thread-stacks', 'thread-stacks', 'a thread\'s stack pointer');
    else if (e.perms === '---p' && next && isAnon(next) && next.start === e.end && next.perms === 'rw-p' && holdsSp(next)) {
      set('thread-stacks', 'thread-stacks', 'guard page of a thread stack');
    } else if (arenaHeap(entries, i, heapMax, hints)) set('malloc-arenas', 'malloc-arenas', '64 MiB-aligned glibc heap');
    else if ((mc = mallocCandidate(e) ? scan(e) : null) !== null && mc.whole) {
      // Before the shapes below: a chunk's headers are the stronger evidence.
      set('malloc-mmapped', 'malloc-mmapped', 'glibc mmapped chunk headers cover the mapping');
    } else if (e.perms === 'rw-p' && prev && prev.end === e.start && prev.inode !== 0 && objects.has(prev.pathname) && prev.perms[1] === 'w' &&
      bss(prev.pathname, e) !== 'no') {
      set('object-data', 'object-data', bss(prev.pathname, e) === 'bss' ? '.bss (ends where the ELF program headers say)' : '.bss by shape (after an object\'s data)');
    } else if (e.perms === 'rw-p' && prev && prev.end === e.start && prev.perms === '---p' && isAnon(prev) && prev.size <= guardMax && e.size >= 64 * 1024) {
      // A stack no live thread points into: glibc's cache of exited threads'
      // stacks, or the stack of a thread that was running when read. Its
      // guard joins it below.
      set('thread-stacks', 'thread-stacks', 'guard page + stack shape');
    } else if (hints.v8 && e.perms === 'rw-p' && e.anonName === null && e.start % V8_PAGE === 0n && e.start < V8_HINT_MAX) {
      set('v8-heap', 'v8-heap', 'V8 page shape (256 KiB-aligned anonymous read-write below 0x400000000000, a Node process)');
    } else set('anonymous', 'anonymous', 'anonymous memory');
    // Chunks inside a merged mapping: their share is malloc's, whatever the rest is.
    if (mc !== null && !mc.whole && mc.presentInChunks > 0 && mc.present > 0) {
      out[i] = { ...out[i]!, part: { id: 'malloc-mmapped', kind: 'malloc-mmapped', rule: 'glibc mmapped chunk headers inside a mapping merged with other memory (its chunks\' present pages)', fraction: mc.presentInChunks / mc.present, bytes: mc.bytes } };
    } else if (e.inode === 0 && e.size <= WALK_MAX_BYTES && out[i]!.kind !== 'pagewise' && out[i]!.kind !== 'shared' && hints.presentPages) {
      // pagewise memory the kernel merged with a neighbour: its present pages.
      const o = overlapHeld(e);
      if (o.length) {
        const all = hints.presentPages(e.start, e.end);
        let mine = 0;
        let bytes = 0n;
        for (const [s, t] of o) {
          mine += hints.presentPages(s, t) ?? 0;
          bytes += t - s;
        }
        if (all !== null && all > 0 && mine > 0) {
          out[i] = { ...out[i]!, part: { id: 'pagewise', kind: 'pagewise', rule: 'a range pagewise holds, inside a mapping merged with other memory (its present pages)', fraction: Math.min(1, mine / all), bytes: Number(bytes), pages: mine } };
        }
      }
    }
  }
  // A guard page belongs with its stack: a `---p` page right below a stack.
  for (i = 0; i + 1 < entries.length; i++) {
    const e = entries[i]!;
    const n = entries[i + 1]!;
    if (out[i]!.kind === 'anonymous' && e.perms === '---p' && n.start === e.end && out[i + 1]!.kind === 'thread-stacks' && e.size <= guardMax) {
      out[i] = { id: 'thread-stacks', kind: 'thread-stacks', rule: out[i + 1]!.rule === 'guard page + stack shape' ? 'guard page + stack shape' : 'guard page of a thread stack' };
    }
  }
  return out;
}

/**
 * Whether entry `i` is part of a glibc non-main arena heap: the run of
 * anonymous private entries that starts at a 64 MiB boundary and covers
 * read-write memory then (optionally) PROT_NONE up to the next boundary.
 */
function arenaHeap(entries: readonly SmapsEntry[], i: number, heapMax: bigint, hints: ClassifyHints): boolean {
  const e = entries[i]!;
  if (!isAnon(e) || e.perms[3] !== 'p') return false;
  // Find the run's first entry: this one if it is on a boundary, else the previous (rw) one.
  let first = i;
  if (e.start % heapMax !== 0n) {
    const prev = entries[i - 1];
    if (!prev || e.perms !== '---p' || prev.end !== e.start || prev.perms !== 'rw-p' || !isAnon(prev) || prev.start % heapMax !== 0n) return false;
    first = i - 1;
  }
  const head = entries[first]!;
  if (head.perms !== 'rw-p' || head.start % heapMax !== 0n) return false;
  const boundary = head.start + heapMax;
  let end = head.end;
  if (end < boundary) {
    const tail = entries[first + 1];
    if (!tail || tail.start !== end || tail.perms !== '---p' || !isAnon(tail)) return false;
    end = tail.end;
  }
  if (end !== boundary) return false;
  if (hints.heapInfo) {
    const info = hints.heapInfo(head.start);
    // Unreadable memory leaves the shape to decide.
    // Implausible headers reject (V8's code range is 64 MiB-aligned too);
    // sizes are not compared with the VMA, as another thread may be growing
    // the heap between the smaps read and this one.
    if (info !== null && (info.arena === 0n || info.size === 0 || info.size > GLIBC_HEAP_MAX || info.mprotectSize > GLIBC_HEAP_MAX)) return false;
  }
  return true;
}
