/**
 * The C side of handle-workloads.ts: the same workloads on the same random
 * sequence (xorshift32), with glibc `malloc`/`free` and, where Debian's
 * `libmimalloc-dev` is installed, `mi_malloc`/`mi_free`. Built once per
 * source with `cc -O2` into the temporary directory; a missing compiler
 * leaves these baselines out (the JS figures still print).
 * @internal
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = String.raw`
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#ifdef USE_MIMALLOC
#include <mimalloc.h>
#define ALLOC mi_malloc
#define FREE mi_free
#define SETTLE() mi_collect(1)
#else
#include <malloc.h>
#define ALLOC malloc
#define FREE free
#define SETTLE() malloc_trim(0)
#endif

static uint32_t rx = 0x9e3779b9u;
static uint32_t rnd(void) { rx ^= rx << 13; rx ^= rx >> 17; rx ^= rx << 5; return rx; }
static long rss(void) {
  FILE *f = fopen("/proc/self/status", "r"); char line[256]; long kb = -1;
  while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  fclose(f); return kb * 1024;
}
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

static unsigned char **live; static long nlive; static long sum;

static void lru(long cap, long keys, long ops) {
  int32_t *slotOfKey = malloc(keys * 4), *keyOf = malloc(cap * 4), *sizeOf = malloc(cap * 4), *prev = malloc(cap * 4), *next = malloc(cap * 4);
  unsigned char **blocks = calloc(cap, sizeof *blocks);
  for (long k = 0; k < keys; k++) slotOfKey[k] = -1;
  long head = -1, tail = -1, count = 0;
#define UNLINK(s) do { long p_ = prev[s], n_ = next[s]; if (p_ >= 0) next[p_] = n_; else head = n_; if (n_ >= 0) prev[n_] = p_; else tail = p_; } while (0)
#define FRONT(s) do { prev[s] = -1; next[s] = head; if (head >= 0) prev[head] = s; head = s; if (tail < 0) tail = s; } while (0)
#define INSERT(key) do { long size = 100 + rnd() % 1901, s; \
    if (count == cap) { s = tail; UNLINK(s); FREE(blocks[s]); slotOfKey[keyOf[s]] = -1; } else s = count++; \
    unsigned char *b = ALLOC(size); memset(b, (key) & 255, size); blocks[s] = b; keyOf[s] = key; sizeOf[s] = size; slotOfKey[key] = s; FRONT(s); } while (0)
  for (long k = 0; k < cap; k++) INSERT(k);
  for (long i = 0; i < ops; i++) {
    long key = rnd() % keys; long s = slotOfKey[key];
    if (s < 0) INSERT(key);
    else { sum += blocks[s][sizeOf[s] - 1]; if (s != head) { UNLINK(s); FRONT(s); } }
  }
  live = blocks; nlive = count;
}

static void small64(long n, long reps) {
  unsigned char **blocks = malloc(n * sizeof *blocks);
  for (long i = 0; i < n; i++) { blocks[i] = ALLOC(64); memset(blocks[i], i & 255, 64); }
  for (long r = 0; r < reps; r++) {
    long i = rnd() % n; sum += blocks[i][63]; FREE(blocks[i]);
    blocks[i] = ALLOC(64); memset(blocks[i], r & 255, 64);
  }
  live = blocks; nlive = n;
}

static void mixed(long slots, long rounds) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char **blocks = calloc(slots, sizeof *blocks);
  for (long round = 0; round < rounds; round++) {
    for (long s = 0; s < slots; s++) {
      if (blocks[s]) continue;
      long base = 16L << (rnd() % 16); long size = base + rnd() % base;
      unsigned char *b = ALLOC(size);
      for (long off = 0; off < size; off += page) b[off] = s & 255;
      b[size - 1] = round; blocks[s] = b;
    }
    for (long s = 0; s < slots; s++) if (rnd() & 1) { sum += blocks[s][0]; FREE(blocks[s]); blocks[s] = 0; }
  }
  long k = 0;
  for (long s = 0; s < slots; s++) if (blocks[s]) blocks[k++] = blocks[s];
  live = blocks; nlive = k;
}

static void simple(long total) {
  static const long sizes[] = {16, 256, 1024, 4096}, counts[] = {25, 100, 400, 1600};
  unsigned char *volatile *blocks = malloc(1600 * sizeof *blocks);
  for (int a = 0; a < 4; a++) for (int c = 0; c < 4; c++) {
    long n = counts[c], iters = total / n;
    for (long it = 0; it < iters; it++) {
      for (long i = 0; i < n; i++) blocks[i] = ALLOC(sizes[a]);
      for (long i = 0; i < n; i++) FREE(blocks[i]);
    }
  }
  nlive = 0;
}

/* malloc-large (mimalloc-bench): a 2 MiB block allocated, written whole, freed; the barrier keeps the compiler from dropping the write before free(). */
static void malloc_large(long iters) {
  const long n = 2L << 20;
  for (long i = 0; i < iters; i++) {
    unsigned char *b = ALLOC(n); memset(b, 'x', n); __asm__ volatile("" : : "r"(b) : "memory");
    sum += b[n - 1]; FREE(b);
  }
  nlive = 0;
}

/* alloc-test (mimalloc-bench, randomPos_RandomSize with full access), as handle-workload-loops.ts ports it. */
static uint32_t at_size(uint32_t r) { uint32_t base = (r & 127) + 1; int idx = __builtin_ctz(base) + 2; return ((r >> 7) & ((1u << idx) - 1)) + 1 + (1u << idx); }
static void alloc_test(long items, long ops) {
  static const double P[7] = {0.262144, 0.393216, 0.24576, 0.08192, 0.01536, 0.001536, 0.000064};
  uint32_t ranges[6], off[8];
  ranges[0] = (uint32_t)(UINT32_MAX * P[0]);
  for (int i = 1; i < 5; i++) ranges[i] = ranges[i - 1] + (uint32_t)(UINT32_MAX * P[i]);
  ranges[5] = (uint32_t)(UINT32_MAX * (1. - P[6]));
  off[0] = 0; for (int i = 0; i < 6; i++) off[i + 1] = off[i] + (uint32_t)(items * P[6 - i]); off[7] = items;
  unsigned char **blocks = calloc(items, sizeof *blocks); uint32_t *size = calloc(items, 4);
  for (long i = 0; i < items / 32; i++) {
    uint32_t bits = rnd();
    for (int j = 0; j < 32; j++) if ((bits >> j) & 1) {
      uint32_t sz = at_size(rnd()); unsigned char *b = ALLOC(sz); memset(b, sz & 255, sz); blocks[i * 32 + j] = b; size[i * 32 + j] = sz;
    }
  }
  long per = ops / 32;
  for (int k = 0; k < 32; k++) for (long j = 0; j < per; j++) {
    uint32_t r1 = rnd(), r2 = rnd(); int lvl = 6;
    for (int l = 0; l < 6; l++) if (r1 < ranges[l]) { lvl = l; break; }
    uint32_t idx = off[lvl] + r2 % (off[lvl + 1] - off[lvl]); uint32_t sz = size[idx];
    if (sz) { unsigned char *b = blocks[idx]; for (uint32_t o = 0; o < sz; o += 8) sum += b[o]; FREE(b); blocks[idx] = 0; size[idx] = 0; }
    else { uint32_t n = at_size(rnd()); unsigned char *b = ALLOC(n); memset(b, n & 255, n); blocks[idx] = b; size[idx] = n; }
  }
  long k = 0;
  for (long i = 0; i < items; i++) if (size[i]) blocks[k++] = blocks[i];
  free(size); live = blocks; nlive = k;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *w = argv[1]; int quick = atoi(argv[2]);
  struct rusage ru0, ru1; getrusage(RUSAGE_SELF, &ru0);
  long base = rss(); double t0 = now_ms();
  if (!strcmp(w, "lru")) lru(quick ? 2000 : 200000, quick ? 3000 : 300000, quick ? 10000 : 1000000);
  else if (!strncmp(w, "small64-", 8)) small64(atol(w + 8), quick ? 10000 : 1000000);
  else if (!strcmp(w, "mixed")) mixed(quick ? 200 : 8000, quick ? 2 : 5);
  else if (!strcmp(w, "glibc-simple")) simple(quick ? 4000 : 400000);
  else if (!strcmp(w, "malloc-large")) malloc_large(quick ? 20 : 5000);
  else if (!strcmp(w, "alloc-test")) alloc_test(quick ? 1L << 14 : 1L << 18, quick ? 10000 : 10000000);
  else return 2;
  double t1 = now_ms(); getrusage(RUSAGE_SELF, &ru1); long after = rss() - base;
  for (long i = 0; i < nlive; i++) FREE(live[i]);
  SETTLE();
  long freed = rss() - base;
  printf("{\"ms\":%.3f,\"rss\":%ld,\"rssFreed\":%ld,\"markCompacts\":0,\"maxPauseMs\":0,\"faults\":%ld,\"own\":-1,\"sum\":%ld}\n", t1 - t0, after, freed, ru1.ru_minflt - ru0.ru_minflt, sum);
  return 0;
}
`;

/** Builds the C contenders that this machine can build: `{ 'c-glibc': path, 'c-mimalloc': path }`. */
export function buildCWorkloads(): Record<string, string> {
  const dir = join(tmpdir(), `pagewise-workloads-${createHash('sha256').update(SOURCE).digest('hex').slice(0, 12)}`);
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'workloads.c');
  writeFileSync(src, SOURCE);
  const out: Record<string, string> = {};
  const variants: [string, string[]][] = [
    ['c-glibc', []],
    ['c-mimalloc', ['-DUSE_MIMALLOC', '-lmimalloc']],
  ];
  for (const [name, flags] of variants) {
    const exe = join(dir, name);
    if (!existsSync(exe)) {
      const r = spawnSync('cc', ['-O2', '-o', exe, src, ...flags], { encoding: 'utf8' });
      if (r.status !== 0) continue;
    }
    out[name] = exe;
  }
  return out;
}
