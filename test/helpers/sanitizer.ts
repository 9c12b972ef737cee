/**
 * Run-time detection of the AddressSanitizer/UBSan run (`npm run test:asan`,
 * scripts/asan.sh) and the reasons a measurement cannot be exact under it.
 * A test guards only the assertion the sanitizer runtime changes, prints
 * why, and keeps every other assertion; natively nothing is skipped.
 */
import * as fs from 'node:fs';

/**
 * Why each kind of measurement is not exact under the sanitizer runtime.
 * Each was observed in `npm run test:asan` and traced to its cause.
 */
export const ASAN = {
  /** libasan's `mlock` interceptor returns 0 without calling the kernel ("AddressSanitizer ignores mlock/mlockall/munlock/munlockall"). */
  mlock: "ASan's mlock() interceptor is a no-op: nothing is locked, so neither residency after mlock nor RLIMIT_MEMLOCK failures can be observed",
  /** libasan reserves its shadow (about 20 TiB, MAP_NORESERVE) at start-up. */
  rlimitAs: "ASan's shadow memory needs more address space than the RLIMIT_AS this child is given (the child dies before main)",
  /** The shadow reservation is private and writable, which RLIMIT_DATA counts since Linux 4.7. */
  rlimitData: "ASan reserves its shadow memory as private writable mappings, which RLIMIT_DATA counts since Linux 4.7: the probe under `ulimit -d` dies before main",
  /** Observed: V8 "Zone Allocation failed - process out of memory" in a child under RLIMIT_DATA before the arena reached the limit. */
  rlimitDataMalloc: "ASan's allocator maps fresh memory for mallocs (freed memory waits in quarantine), which RLIMIT_DATA counts too, so V8 can meet the limit before the arena does and abort",
  /** The preloaded runtime replaces malloc/free/mallopt in every process, the C probe included. */
  allocator: "the preloaded ASan runtime replaces malloc in the probe: its allocator never moves the break, ignores mallopt, and quarantines freed memory, so glibc's heap behaviour cannot be observed",
  /** Allocator quarantine and shadow writes, in native calls and in the probe. */
  rss: "ASan's allocator quarantines freed memory (each fopen() of /proc in the probe takes fresh pages) and writes shadow memory, so the process RSS moves by itself",
  /** Instrumented loads check one shadow byte per 8 bytes: one shadow page per 8 pages read. */
  shadowReads: 'instrumented native reads first read the shadow memory of each address, and each shadow page (covering 8 pages) takes one fault in the forked child',
  /** Native calls on this thread malloc from a quarantining allocator and write its shadow. */
  faults: "native calls on this thread allocate from ASan's allocator, which quarantines freed memory (new chunks, new shadow), so a fresh page can fault inside the measured window",
  /** libasan maps allocator regions and shadow as the process mallocs, from any thread. */
  maps: "ASan's allocator maps new regions (and their shadow) as the process mallocs, from any thread, so the number of lines in /proc/self/maps moves by itself",
  /** Observed: a 256 KiB rw-p mapping in a just-closed arena's range, merged with its upper neighbour. */
  mmapHole: "ASan serves each large malloc with its own mmap (reading /proc/self/maps is one), which the kernel places top-down into the hole an unmapping just left, so a foreign mapping can appear in the freed range",
} as const;

let cached: boolean | undefined;

/**
 * True when the sanitizer runtime is in this process: scripts/asan.sh sets
 * `PAGEWISE_ASAN=1` and preloads libasan (seen in /proc/self/maps).
 */
export function underSanitizer(): boolean {
  if (cached === undefined) {
    let mapped = false;
    try {
      mapped = /\/libasan\.so/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
    } catch {
      mapped = false;
    }
    cached = process.env.PAGEWISE_ASAN === '1' || mapped;
  }
  return cached;
}

const printed = new Set<string>();

function note(kind: string, what: string, reason: string): void {
  const line = `[${kind}] ${what}: ${reason} (under AddressSanitizer, npm run test:asan)`;
  if (printed.has(line)) return;
  printed.add(line);
  console.warn(line);
}

/**
 * For `it.skipIf(...)` when the whole test is what the sanitizer changes:
 * `true`, with the reason printed, under the sanitizer.
 */
export function sanitizerSkips(what: string, reason: string): boolean {
  if (!underSanitizer()) return false;
  note('skipped test', what, reason);
  return true;
}

/**
 * Runs `assertion` natively; under the sanitizer prints why it is skipped
 * (once per message) and returns `false`. Guards only the one assertion.
 */
export function unlessSanitizer(what: string, reason: string, assertion: () => void): boolean {
  if (underSanitizer()) {
    note('skipped assertion', what, reason);
    return false;
  }
  assertion();
  return true;
}
