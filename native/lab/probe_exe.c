/*
 * pagewise-probe: a small single-threaded C program that runs the libc
 * experiments (glibc malloc, the program break, process exit, per-process
 * limits, kernel objects) where V8's own threads and allocations cannot
 * pollute the numbers. lib/experiments/ runs it as a child process.
 *
 * Usage: pagewise-probe <command> [args...]
 * Every command prints one JSON object on stdout and exits 0, except
 * `hugetlb-touch`, which is meant to die of a signal (the parent asserts it).
 * Exit 2 on a usage error. Page size from sysconf(_SC_PAGESIZE).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static long page;

/* ---- small readers ---------------------------------------------------- */

/* Value in bytes of a "Key:   N kB" line in a /proc file, or -1. */
static long long proc_kb(const char* file, const char* key) {
  FILE* f = fopen(file, "r");
  if (!f) return -1;
  char line[512];
  size_t klen = strlen(key);
  long long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = strtoll(line + klen + 1, NULL, 10) * 1024;
      break;
    }
  }
  fclose(f);
  return v;
}

/* Free memory including pages parked on the per-CPU free lists (zoneinfo
 * "count:" of each pageset), which MemFree leaves out. */
static long long free_with_pcp(void) {
  long long free = proc_kb("/proc/meminfo", "MemFree");
  FILE* f = fopen("/proc/zoneinfo", "r");
  if (!f || free < 0) { if (f) fclose(f); return free; }
  char line[256];
  long long pcp = 0;
  while (fgets(line, sizeof line, f)) {
    char* s = line;
    while (*s == ' ') s++;
    if (strncmp(s, "count:", 6) == 0) pcp += strtoll(s + 6, NULL, 10);
  }
  fclose(f);
  return free + pcp * page;
}

/* Exact RSS of this process: smaps_rollup walks the page tables. */
static long long rss_exact(void) { return proc_kb("/proc/self/smaps_rollup", "Rss"); }

static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uintptr_t brk_now(void) { return (uintptr_t)sbrk(0); }

/* True when p lies in the brk heap [start, current break). */
static int in_heap(void* p, uintptr_t heap_start) {
  uintptr_t a = (uintptr_t)p;
  return a >= heap_start && a < brk_now();
}

static int count_maps(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF)
    if (c == '\n') n++;
  fclose(f);
  return n;
}

static long argl(int argc, char** argv, int i, long def) {
  return argc > i ? strtol(argv[i], NULL, 10) : def;
}

static void touch(char* p, size_t len) {
  for (size_t off = 0; off < len; off += (size_t)page) p[off] = 1;
}

/* ---- commands --------------------------------------------------------- */

/* zfod K: malloc(1 GiB) is address space only; writing K pages costs K faults. */
static int cmd_zfod(int argc, char** argv) {
  long k = argl(argc, argv, 2, 256);
  size_t size = (size_t)1 << 30;
  uintptr_t heap0 = brk_now();
  long long r0 = rss_exact();
  char* p = malloc(size);
  if (!p) { printf("{\"error\":\"malloc failed\",\"errno\":%d}\n", errno); return 0; }
  long long r1 = rss_exact();
  /* Count 4K faults: no THP on the chunk (aligned inward). */
  uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  madvise((void*)a, size - (size_t)page, MADV_NOHUGEPAGE);
  /* The chunk header sits on the first page (already resident): write pages 1..k. */
  char* base = (char*)a + page;
  long f0 = minflt();
  touch(base, (size_t)k * (size_t)page);
  long f1 = minflt();
  long long r2 = rss_exact();
  printf("{\"size\":%zu,\"mmapped\":%s,\"rssBefore\":%lld,\"rssAfterMalloc\":%lld,\"pagesWritten\":%ld,"
         "\"faults\":%ld,\"rssAfterWrite\":%lld,\"pageSize\":%ld}\n",
         size, in_heap(p, heap0) ? "false" : "true", r0, r1, k, f1 - f0, r2, page);
  return 0;
}

/* malloc-steps N SIZE: N small mallocs, counting how often the break moves. */
static int cmd_malloc_steps(int argc, char** argv) {
  long n = argl(argc, argv, 2, 10000);
  long size = argl(argc, argv, 3, 100);
  void** ptrs = malloc(sizeof(void*) * (size_t)n); /* allocated before counting */
  if (!ptrs) return 1;
  for (long i = 0; i < n; i++) ptrs[i] = NULL;
  uintptr_t start = brk_now();
  uintptr_t last = start;
  long moves = 0, mapped = 0;
  long long minStep = -1, maxStep = 0;
  uintptr_t heap0 = start;
  for (long i = 0; i < n; i++) {
    ptrs[i] = malloc((size_t)size);
    uintptr_t b = brk_now();
    if (b != last) {
      long long step = (long long)(b - last);
      if (minStep < 0 || step < minStep) minStep = step;
      if (step > maxStep) maxStep = step;
      moves++;
      last = b;
    }
    if (!in_heap(ptrs[i], heap0 - (1 << 30) > heap0 ? 0 : heap0 - (1 << 30))) mapped++;
  }
  printf("{\"mallocs\":%ld,\"size\":%ld,\"breakMoves\":%ld,\"minStep\":%lld,\"maxStep\":%lld,"
         "\"heapGrowth\":%lld,\"outsideHeap\":%ld,\"pageSize\":%ld}\n",
         n, size, moves, minStep < 0 ? 0 : minStep, maxStep, (long long)(last - start), mapped, page);
  for (long i = 0; i < n; i++) free(ptrs[i]);
  free(ptrs);
  return 0;
}

/* One allocation's fate: in the brk heap or its own mapping. `top` is the
 * free space at the top of the heap before the call (mallinfo2 keepcost). */
static void report_alloc(const char* label, size_t size, int first) {
  struct mallinfo2 mi = mallinfo2();
  uintptr_t b0 = brk_now();
  void* p = malloc(size);
  uintptr_t b1 = brk_now();
  /* Heap membership: below the current break and within 4 GiB of it. */
  int heap = p && (uintptr_t)p < b1 && (uintptr_t)p >= (uintptr_t)b1 - ((uintptr_t)1 << 32);
  printf("%s{\"label\":\"%s\",\"size\":%zu,\"topFree\":%zu,\"inHeap\":%s,\"breakMoved\":%lld,\"mmappedBytes\":%zu}",
         first ? "" : ",", label, size, mi.keepcost, heap ? "true" : "false", (long long)(b1 - b0), mallinfo2().hblkhd);
  /* Deliberately not freed: freeing a mapped chunk would move glibc's dynamic threshold. */
}

/* threshold: sizes around M_MMAP_THRESHOLD (128 KiB by default), each in a
 * fresh child process so one request does not change the next one's heap. */
static int cmd_threshold(int argc, char** argv) {
  (void)argc; (void)argv;
  static const struct { const char* label; size_t size; } sizes[] = {
    {"64 KiB", 64 * 1024}, {"128 KiB - 32", 128 * 1024 - 32}, {"128 KiB", 128 * 1024},
    {"132 KiB", 132 * 1024}, {"256 KiB", 256 * 1024}, {"1 MiB", 1024 * 1024},
  };
  printf("{\"threshold\":%d,\"allocs\":[", 128 * 1024);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      free(malloc(16)); /* initialise malloc: the first heap */
      report_alloc(sizes[i].label, sizes[i].size, i == 0);
      fflush(stdout);
      _exit(0);
    }
    waitpid(pid, NULL, 0);
  }
  printf("]}\n");
  return 0;
}

/* mallopt SIZE THRESHOLD: M_MMAP_THRESHOLD moved up; does SIZE now come from the heap? */
static int cmd_mallopt(int argc, char** argv) {
  long size = argl(argc, argv, 2, 256 * 1024);
  long thr = argl(argc, argv, 3, 1024 * 1024);
  int ok = mallopt(M_MMAP_THRESHOLD, (int)thr);
  free(malloc(16));
  printf("{\"mallopt\":%d,\"threshold\":%ld,\"allocs\":[", ok, thr);
  report_alloc("after mallopt", (size_t)size, 1);
  printf("]}\n");
  return 0;
}

/* dynamic SIZE: malloc(SIZE) is mmapped; after free() glibc raises the threshold. */
static int cmd_dynamic(int argc, char** argv) {
  long size = argl(argc, argv, 2, 256 * 1024);
  free(malloc(16));
  uintptr_t b0 = brk_now();
  int m0 = count_maps();
  void* p = malloc((size_t)size);
  int m1 = count_maps();
  int first = (uintptr_t)p >= brk_now() || (uintptr_t)p < b0 - ((uintptr_t)1 << 32) ? 0 : 1;
  free(p);
  uintptr_t b1 = brk_now();
  void* q = malloc((size_t)size);
  uintptr_t b2 = brk_now();
  int second = q && (uintptr_t)q < b2 && (uintptr_t)q >= b1 - ((uintptr_t)1 << 32);
  printf("{\"size\":%ld,\"firstInHeap\":%s,\"firstMapsDelta\":%d,\"secondInHeap\":%s,\"secondBreakMoved\":%lld}\n",
         size, first ? "true" : "false", m1 - m0, second ? "true" : "false", (long long)(b2 - b1));
  return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* heap-holes N SIZE: N objects, half freed at random, then malloc_trim(0), then the rest. */
static int cmd_heap_holes(int argc, char** argv) {
  long n = argl(argc, argv, 2, 50000);
  long size = argl(argc, argv, 3, 1000);
  void** ptrs = calloc((size_t)n, sizeof(void*));
  long* order = calloc((size_t)n, sizeof(long));
  if (!ptrs || !order) return 1;
  for (long i = 0; i < n; i++) order[i] = i;
  for (long i = n - 1; i > 0; i--) {
    long j = (long)(rng() % (uint64_t)(i + 1));
    long t = order[i]; order[i] = order[j]; order[j] = t;
  }
  printf("{\"objects\":%ld,\"size\":%ld,\"pageSize\":%ld,\"stages\":[", n, size, page);
  printf("{\"label\":\"start\",\"freed\":0,\"rss\":%lld,\"break\":%llu}", rss_exact(), (unsigned long long)brk_now());
  for (long i = 0; i < n; i++) {
    ptrs[i] = malloc((size_t)size);
    memset(ptrs[i], 0xA5, (size_t)size);
  }
  printf(",{\"label\":\"allocated\",\"freed\":0,\"rss\":%lld,\"break\":%llu}", rss_exact(), (unsigned long long)brk_now());
  long half = n / 2, done = 0;
  for (int step = 1; step <= 5; step++) {
    long upto = half * step / 5;
    for (; done < upto; done++) { free(ptrs[order[done]]); ptrs[order[done]] = NULL; }
    printf(",{\"label\":\"freed %d%%\",\"freed\":%ld,\"rss\":%lld,\"break\":%llu}", step * 10, done, rss_exact(),
           (unsigned long long)brk_now());
  }
  double t0 = now_us();
  int trimmed = malloc_trim(0);
  double t1 = now_us();
  printf(",{\"label\":\"malloc_trim(0)\",\"freed\":%ld,\"rss\":%lld,\"break\":%llu}", done, rss_exact(),
         (unsigned long long)brk_now());
  for (long i = 0; i < n; i++) if (ptrs[i]) { free(ptrs[i]); ptrs[i] = NULL; }
  printf(",{\"label\":\"freed all\",\"freed\":%ld,\"rss\":%lld,\"break\":%llu}", n, rss_exact(),
         (unsigned long long)brk_now());
  malloc_trim(0);
  printf(",{\"label\":\"malloc_trim(0) again\",\"freed\":%ld,\"rss\":%lld,\"break\":%llu}", n, rss_exact(),
         (unsigned long long)brk_now());
  printf("],\"trimReturned\":%d,\"trimMicros\":%.1f}\n", trimmed, t1 - t0);
  return 0;
}

/* exit-recovery MIB: a child touches MIB and exits without free(); look at it as a zombie. */
static int cmd_exit_recovery(int argc, char** argv) {
  long mib = argl(argc, argv, 2, 256);
  size_t size = (size_t)mib << 20;
  int up[2], down[2];
  if (pipe(up) || pipe(down)) return 1;
  long long free0 = proc_kb("/proc/meminfo", "MemFree");
  fflush(stdout);
  long long pcp0 = free_with_pcp();
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    char* p = malloc(size);
    if (!p) _exit(3);
    madvise(p, size, MADV_NOHUGEPAGE);
    touch(p, size);
    char c = 'r';
    if (write(up[1], &c, 1) != 1) _exit(4);
    if (read(down[0], &c, 1) < 0) _exit(5);
    exit(0); /* no free(): the kernel gets the memory back */
  }
  char c;
  if (read(up[0], &c, 1) != 1) return 1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  long long rssAlive = proc_kb(path, "VmRSS");
  long long freeAlive = proc_kb("/proc/meminfo", "MemFree");
  long long pcpAlive = free_with_pcp();
  c = 'x';
  if (write(down[1], &c, 1) != 1) return 1;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT); /* exited, not reaped: a zombie */
  long long rssZombie = proc_kb(path, "VmRSS");
  char state = '?';
  FILE* f = fopen(path, "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "State:", 6) == 0) { char* s = line + 6; while (*s == ' ' || *s == '\t') s++; state = *s; break; }
    fclose(f);
  }
  long long freeZombie = proc_kb("/proc/meminfo", "MemFree");
  long long pcpZombie = free_with_pcp();
  int status = 0;
  waitpid(pid, &status, 0);
  long long freeReaped = proc_kb("/proc/meminfo", "MemFree");
  printf("{\"bytes\":%zu,\"childRssAlive\":%lld,\"zombieState\":\"%c\",\"zombieHasVmRss\":%s,\"memFreeBefore\":%lld,"
         "\"memFreeAlive\":%lld,\"memFreeZombie\":%lld,\"memFreeReaped\":%lld,\"freeWithPcpBefore\":%lld,"
         "\"freeWithPcpAlive\":%lld,\"freeWithPcpZombie\":%lld,\"exitCode\":%d}\n",
         size, rssAlive, state, rssZombie >= 0 ? "true" : "false", free0, freeAlive, freeZombie, freeReaped, pcp0, pcpAlive, pcpZombie,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

static void err_json(const char* key, int ok, int err) {
  printf("\"%s\":{\"ok\":%s,\"errno\":%d,\"code\":\"%s\"}", key, ok ? "true" : "false", ok ? 0 : err,
         ok ? "" : strerrorname_np(err) ? strerrorname_np(err) : "?");
}

/* rlimit-data MIB: under a lowered RLIMIT_DATA (set by the parent), which allocations fail? */
static int cmd_rlimit_data(int argc, char** argv) {
  long mib = argl(argc, argv, 2, 64);
  size_t size = (size_t)mib << 20;
  struct rlimit rl;
  getrlimit(RLIMIT_DATA, &rl);
  printf("{\"limit\":%lld,\"request\":%zu,", rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur, size);
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int e = errno;
  err_json("privateWritable", p != MAP_FAILED, e);
  if (p != MAP_FAILED) munmap(p, size);
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  e = errno;
  printf(",");
  err_json("privateWritableNoreserve", p != MAP_FAILED, e);
  if (p != MAP_FAILED) munmap(p, size);
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  e = errno;
  printf(",");
  err_json("sharedWritable", p != MAP_FAILED, e);
  if (p != MAP_FAILED) munmap(p, size);
  p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  e = errno;
  printf(",");
  err_json("privateReadOnly", p != MAP_FAILED, e);
  if (p != MAP_FAILED) munmap(p, size);
  p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  e = errno;
  printf(",");
  err_json("reserveNone", p != MAP_FAILED, e);
  if (p != MAP_FAILED) {
    int r = mprotect(p, size, PROT_READ | PROT_WRITE);
    e = errno;
    printf(",");
    err_json("commitMprotect", r == 0, e);
    /* A commit of a small piece still works: the failure is per request, not fatal. */
    r = mprotect(p, (size_t)page, PROT_READ | PROT_WRITE);
    e = errno;
    printf(",");
    err_json("commitOnePage", r == 0, e);
    munmap(p, size);
  }
  errno = 0;
  void* m = malloc(size);
  e = errno;
  printf(",");
  err_json("malloc", m != NULL, e);
  free(m);
  void* b = sbrk((intptr_t)size);
  e = errno;
  printf(",");
  err_json("sbrk", b != (void*)-1, e);
  if (b != (void*)-1) sbrk(-(intptr_t)size);
  printf("}\n");
  return 0;
}

/* kernel-memory COUNT FILL: COUNT pipes, each filled with FILL bytes. */
static long long slab(void) { return proc_kb("/proc/meminfo", "Slab"); }

static int cmd_kernel_memory(int argc, char** argv) {
  long count = argl(argc, argv, 2, 1000);
  long fill = argl(argc, argv, 3, 65536);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  getrlimit(RLIMIT_NOFILE, &rl);
  if ((long)rl.rlim_cur < count * 2 + 16) count = ((long)rl.rlim_cur - 16) / 2;
  int* fds = calloc((size_t)count * 2, sizeof(int));
  char* buf = malloc((size_t)fill);
  if (!fds || !buf) return 1;
  memset(buf, 'p', (size_t)fill);
  /* Noise: Slab sampled with nothing happening here. */
  long long lo = -1, hi = -1;
  for (int i = 0; i < 6; i++) {
    long long s = slab();
    if (lo < 0 || s < lo) lo = s;
    if (s > hi) hi = s;
    usleep(20000);
  }
  long long s0 = slab(), u0 = proc_kb("/proc/meminfo", "SUnreclaim"), f0 = proc_kb("/proc/meminfo", "MemFree");
  long long r0 = rss_exact();
  long made = 0;
  for (; made < count; made++)
    if (pipe2(fds + made * 2, O_NONBLOCK)) break;
  long long s1 = slab(), u1 = proc_kb("/proc/meminfo", "SUnreclaim"), f1 = proc_kb("/proc/meminfo", "MemFree");
  long long r1 = rss_exact();
  long long written = 0;
  for (long i = 0; i < made; i++) {
    ssize_t w = write(fds[i * 2 + 1], buf, (size_t)fill);
    if (w > 0) written += w;
  }
  long long s2 = slab(), u2 = proc_kb("/proc/meminfo", "SUnreclaim"), f2 = proc_kb("/proc/meminfo", "MemFree");
  long long r2 = rss_exact();
  for (long i = 0; i < made * 2; i++) close(fds[i]);
  usleep(50000);
  long long s3 = slab(), f3 = proc_kb("/proc/meminfo", "MemFree");
  /* A few pipes: kmalloc serves them from slab pages already there. */
  int few[8];
  long long sf0 = slab();
  int nf = 0;
  for (; nf < 4; nf++) if (pipe(few + nf * 2)) break;
  long long sf1 = slab();
  for (int i = 0; i < nf * 2; i++) close(few[i]);
  printf("{\"pipes\":%ld,\"fillBytes\":%ld,\"written\":%lld,\"slabNoise\":%lld,"
         "\"slab\":[%lld,%lld,%lld,%lld],\"sunreclaim\":[%lld,%lld,%lld],\"memFree\":[%lld,%lld,%lld,%lld],"
         "\"rss\":[%lld,%lld,%lld],\"fewPipes\":%d,\"fewPipesSlabDelta\":%lld,\"pageSize\":%ld}\n",
         made, fill, written, hi - lo, s0, s1, s2, s3, u0, u1, u2, f0, f1, f2, f3, r0, r1, r2, nf, sf1 - sf0, page);
  return 0;
}

/* hugetlb-touch: MAP_HUGETLB | MAP_NORESERVE, then touch. With no free huge
 * pages the touch gets SIGBUS (this process dies: the parent reads the signal). */
static int cmd_hugetlb_touch(int argc, char** argv) {
  (void)argc; (void)argv;
  size_t size = 2u << 20;
  long long hp = proc_kb("/proc/meminfo", "Hugepagesize");
  if (hp > 0) size = (size_t)hp;
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    printf("{\"mapped\":false,\"errno\":%d,\"code\":\"%s\"}\n", errno, strerrorname_np(errno));
    return 0;
  }
  /* Same memory, asked politely: MADV_POPULATE_WRITE returns an error code. */
  int pr = madvise(p, size, MADV_POPULATE_WRITE);
  int pe = errno;
  printf("{\"mapped\":true,\"size\":%zu,\"populateOk\":%s,\"populateErrno\":%d,\"populateCode\":\"%s\"}\n", size,
         pr == 0 ? "true" : "false", pr == 0 ? 0 : pe, pr == 0 ? "" : (strerrorname_np(pe) ? strerrorname_np(pe) : "?"));
  fflush(stdout);
  ((volatile char*)p)[0] = 1;
  printf("{\"touched\":true}\n");
  return 0;
}

int main(int argc, char** argv) {
  page = sysconf(_SC_PAGESIZE);
  const char* cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "zfod")) return cmd_zfod(argc, argv);
  if (!strcmp(cmd, "malloc-steps")) return cmd_malloc_steps(argc, argv);
  if (!strcmp(cmd, "threshold")) return cmd_threshold(argc, argv);
  if (!strcmp(cmd, "mallopt")) return cmd_mallopt(argc, argv);
  if (!strcmp(cmd, "dynamic")) return cmd_dynamic(argc, argv);
  if (!strcmp(cmd, "heap-holes")) return cmd_heap_holes(argc, argv);
  if (!strcmp(cmd, "exit-recovery")) return cmd_exit_recovery(argc, argv);
  if (!strcmp(cmd, "rlimit-data")) return cmd_rlimit_data(argc, argv);
  if (!strcmp(cmd, "kernel-memory")) return cmd_kernel_memory(argc, argv);
  if (!strcmp(cmd, "hugetlb-touch")) return cmd_hugetlb_touch(argc, argv);
  fprintf(stderr,
          "usage: pagewise-probe zfod|malloc-steps|threshold|mallopt|dynamic|heap-holes|exit-recovery|"
          "rlimit-data|kernel-memory|hugetlb-touch [args]\n");
  return 2;
}
