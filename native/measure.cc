// Measurement primitives: pread of /proc/self/statm and smaps_rollup on kept
// descriptors, pread of /proc/self/pagemap, ioctl(PAGEMAP_SCAN), and
// perf_event_open software page-fault counters. Contract in pagewise.h.
//
// The /proc/self files are opened once and kept: a seq_file regenerates its
// text when read again from offset 0, so pread(fd, buf, n, 0) on a kept
// descriptor is a fresh snapshot without the cost of open and close
// (BENCHMARKS.md). /proc/self resolves to
// the opening process, so a forked child drops the inherited descriptors
// (pthread_atfork) and opens its own.
//
// Nothing here allocates on the JS heap or in C++ on the hot paths: readers
// use static buffers, so a measurement does not fault pages of its own into
// the numbers it reports.
#include "pagemap-scan.h"
#include "region.h"

#include <fcntl.h>
#include <malloc.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <ctime>


namespace pagewise {

// --- kept /proc/self descriptors -------------------------------------------

enum ProcFile { kStatm = 0, kRollup = 1, kPagemap = 2, kProcFiles = 3 };
static const char* const kProcPath[kProcFiles] = {"/proc/self/statm", "/proc/self/smaps_rollup",
                                                  "/proc/self/pagemap"};
static std::atomic<int> g_fd[kProcFiles] = {{-1}, {-1}, {-1}};
static std::once_flag g_atfork_once;

static void ChildAfterFork() {
  // The inherited descriptors describe the parent: forget them (the child
  // opens its own on first use). Closing is async-signal-safe.
  for (auto& f : g_fd) {
    int fd = f.exchange(-1);
    if (fd >= 0) close(fd);
  }
}

// Returns the kept descriptor for `which`, opening it on first use; -1 with
// errno set on failure.
static int ProcFd(ProcFile which) {
  int fd = g_fd[which].load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  std::call_once(g_atfork_once, [] { pthread_atfork(nullptr, nullptr, ChildAfterFork); });
  fd = open(kProcPath[which], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int expected = -1;
  if (!g_fd[which].compare_exchange_strong(expected, fd)) {
    close(fd);  // another thread won the race
    return expected;
  }
  return fd;
}

// Reads the whole file at offset 0 into buf (NUL-terminated); returns bytes
// or -1 with errno.
static ssize_t PreadAll(int fd, char* buf, size_t cap) {
  size_t got = 0;
  while (got + 1 < cap) {
    ssize_t n = pread(fd, buf + got, cap - 1 - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf[got] = 0;
  return static_cast<ssize_t>(got);
}

// statmResident() -> resident pages (second field of /proc/self/statm).
// Approximate by the kernel's own account (per-CPU RSS counters).
static Napi::Value StatmResident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ProcFd(kStatm);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[kStatm]);
  char buf[160];
  ssize_t n;
  do n = pread(fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "pread", kProcPath[kStatm]);
  buf[n] = 0;
  const char* p = buf;
  while (*p && *p != ' ') p++;  // skip size
  if (*p != ' ') return ThrowInternal(env, "statm: unexpected format");
  p++;
  uint64_t v = 0;
  bool any = false;
  for (; *p >= '0' && *p <= '9'; p++, any = true) v = v * 10 + static_cast<uint64_t>(*p - '0');
  if (!any) return ThrowInternal(env, "statm: unexpected format");
  return Napi::Number::New(env, static_cast<double>(v));
}

// smapsRollupRss() -> bytes of the `Rss:` line of /proc/self/smaps_rollup:
// an exact page-table walk (excludes the shared zero page). Static buffer:
// no allocation, so repeated calls do not disturb what they measure.
static Napi::Value SmapsRollupRss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ProcFd(kRollup);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[kRollup]);
  static thread_local char buf[8192];
  ssize_t n = PreadAll(fd, buf, sizeof buf);
  if (n < 0) return ThrowErrno(env, errno, "pread", kProcPath[kRollup]);
  const char* p = strstr(buf, "\nRss:");
  if (!p) return ThrowInternal(env, "smaps_rollup: no Rss line");
  p += 5;
  while (*p == ' ' || *p == '\t') p++;
  uint64_t kb = 0;
  bool any = false;
  for (; *p >= '0' && *p <= '9'; p++, any = true) kb = kb * 10 + static_cast<uint64_t>(*p - '0');
  if (!any) return ThrowInternal(env, "smaps_rollup: bad Rss line");
  return Napi::Number::New(env, static_cast<double>(kb * 1024));
}

// readProcSelf(name, Uint8Array) -> bytes: reads /proc/self/<name> for a
// kept file ('statm' | 'smaps_rollup') into a caller's preallocated buffer.
static Napi::Value ReadProcSelf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  Bytes buf;
  if (!DecodeArgs(info, "readProcSelf", 0, &name, &buf)) return env.Undefined();
  ProcFile which;
  if (name == "statm") which = kStatm;
  else if (name == "smaps_rollup") which = kRollup;
  else return ThrowInternal(env, "readProcSelf: unknown file " + name);
  if (buf.length < 2) return ThrowInternal(env, "readProcSelf: need a Uint8Array");
  char* out = reinterpret_cast<char*>(buf.data);
  int fd = ProcFd(which);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[which]);
  ssize_t n = PreadAll(fd, out, buf.length);
  if (n < 0) return ThrowErrno(env, errno, "pread", kProcPath[which]);
  return Napi::Number::New(env, static_cast<double>(n));
}

// --- pagemap ----------------------------------------------------------------


static std::string RangeText(Region* r, uint64_t off, uint64_t len) {
  return std::string(kProcPath[kPagemap]) + ", addr=" + Hex(reinterpret_cast<uint64_t>(r->addr + off)) +
         ", length=" + std::to_string(len);
}

// pagemapCount(region, offset, length, out: Float64Array(7)) fills
// [present, swapped, fileOrShared, exclusive, softDirty, pfnVisible, zeroPfnPages]
// from /proc/self/pagemap (8 bytes per page). `zeroPfn` (BigInt, 0n =
// unknown) counts present pages mapped to that PFN.
static Napi::Value PagemapCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  double* out = OutF64(info, 3, 7, "pagemapCount");
  if (!out) return env.Undefined();
  Address zero;
  if (!DecodeArgs(info, "pagemapCount", 4, &zero)) return env.Undefined();
  const uint64_t zeroPfn = zero.value;
  int fd = ProcFd(kPagemap);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[kPagemap]);
  const uint64_t page = PageSize();
  const uint64_t first = reinterpret_cast<uint64_t>(r->addr + off) / page;
  const uint64_t pages = (len + page - 1) / page;
  static thread_local uint64_t chunk[8192];
  uint64_t c[7] = {0, 0, 0, 0, 0, 0, 0};
  for (uint64_t done = 0; done < pages;) {
    uint64_t want = pages - done < 8192 ? pages - done : 8192;
    ssize_t n = pread(fd, chunk, want * 8, static_cast<off_t>((first + done) * 8));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ThrowErrno(env, errno, "pread", RangeText(r, off, len));
    }
    if (n == 0 || n % 8 != 0) return ThrowInternal(env, "pagemap: short read");
    uint64_t got = static_cast<uint64_t>(n) / 8;
    for (uint64_t i = 0; i < got; i++) {
      uint64_t e = chunk[i];
      if (e & uapi::PM_PRESENT) {
        c[0]++;
        uint64_t pfn = e & uapi::PM_PFN;
        if (pfn) c[5]++;
        if (zeroPfn && pfn == zeroPfn) c[6]++;
      }
      if (e & uapi::PM_SWAPPED) c[1]++;
      if (e & uapi::PM_FILE) c[2]++;
      if (e & uapi::PM_EXCLUSIVE) c[3]++;
      if (e & uapi::PM_SOFT_DIRTY) c[4]++;
    }
    done += got;
  }
  for (int i = 0; i < 7; i++) out[i] = static_cast<double>(c[i]);
  return env.Undefined();
}

// pagemapRead(region, offset, length, out: BigUint64Array) -> pages read:
// the raw 64-bit entries, one per page.
static Napi::Value PagemapRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  const uint64_t page = PageSize();
  const uint64_t pages = (len + page - 1) / page;
  uint8_t* out = OutArray<uint8_t>(info, 3, napi_biguint64_array, pages, "pagemapRead", "BigUint64Array with one entry per page");
  if (!out) return env.Undefined();
  int fd = ProcFd(kPagemap);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[kPagemap]);
  const uint64_t first = reinterpret_cast<uint64_t>(r->addr + off) / page;
  uint64_t done = 0;
  while (done < pages * 8) {
    ssize_t n = pread(fd, out + done, pages * 8 - done, static_cast<off_t>(first * 8 + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ThrowErrno(env, errno, "pread", RangeText(r, off, len));
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return Napi::Number::New(env, static_cast<double>(done / 8));
}

// pagemapScan(region, offset, length, out: Float64Array(6)) -> 0, or the
// errno when the kernel lacks the ioctl (ScanUnsupported, pagemap-scan.h) so
// lib/ can fall back and say why.
// Fills [present, swapped, pfnZero, file, softDirty, huge] in pages.
// Other failures throw.
static Napi::Value PagemapScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  double* out = OutF64(info, 3, 6, "pagemapScan");
  if (!out) return env.Undefined();
  int fd = ProcFd(kPagemap);
  if (fd < 0) return ThrowErrno(env, errno, "open", kProcPath[kPagemap]);
  const uint64_t page = PageSize();
  const uint64_t start = reinterpret_cast<uint64_t>(r->addr + off);
  const uint64_t end = start + (len + page - 1) / page * page;
  static thread_local uapi::page_region vec[512];
  uint64_t c[6] = {0, 0, 0, 0, 0, 0};
  // Report only pages that are present or swapped; adjacent pages with the
  // same categories come back merged into one run.
  uapi::pm_scan_arg q{};
  q.end = end;
  q.category_anyof_mask = uapi::PAGE_IS_PRESENT | uapi::PAGE_IS_SWAPPED;
  q.return_mask = uapi::PAGE_IS_PRESENT | uapi::PAGE_IS_SWAPPED | uapi::PAGE_IS_PFNZERO | uapi::PAGE_IS_FILE |
                  uapi::PAGE_IS_SOFT_DIRTY | uapi::PAGE_IS_HUGE;
  uint64_t cur = start;
  int err = ScanPagemap(fd, q, vec, sizeof vec / sizeof vec[0], &cur, [&](const uapi::page_region* v, int n) {
    for (int i = 0; i < n; i++) {
      const uint64_t pg = (v[i].end - v[i].start) / page;
      const uint64_t cat = v[i].categories;
      if (cat & uapi::PAGE_IS_PRESENT) c[0] += pg;
      if (cat & uapi::PAGE_IS_SWAPPED) c[1] += pg;
      if ((cat & uapi::PAGE_IS_PRESENT) && (cat & uapi::PAGE_IS_PFNZERO)) c[2] += pg;
      if (cat & uapi::PAGE_IS_FILE) c[3] += pg;
      if (cat & uapi::PAGE_IS_SOFT_DIRTY) c[4] += pg;
      if (cat & uapi::PAGE_IS_HUGE) c[5] += pg;
    }
  });
  if (err == kScanNoProgress) return ThrowInternal(env, "PAGEMAP_SCAN made no progress");
  if (err != 0 && ScanUnsupported(err)) return Napi::Number::New(env, err);
  if (err != 0) return ThrowErrno(env, err, "ioctl", "PAGEMAP_SCAN, " + RangeText(r, off, len));
  for (int i = 0; i < 6; i++) out[i] = static_cast<double>(c[i]);
  return Napi::Number::New(env, 0);
}

// --- perf software page-fault events ---------------------------------------

// The two counters form one group (the minor-fault counter leads, with
// PERF_FORMAT_GROUP): one read() of the leader returns both, so a reading
// costs one system call instead of two. Software events are never
// multiplexed, so the counts are the same as from two separate counters.
static int PerfOpen(uint64_t config, int groupFd) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = config;
  if (groupFd < 0) attr.read_format = PERF_FORMAT_GROUP;
  // Faults are counted in the kernel on behalf of user code; excluding
  // kernel and hypervisor lets perf_event_paranoid <= 2 allow it unprivileged.
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, 0 /* this thread */, -1, groupFd, PERF_FLAG_FD_CLOEXEC));
}

// Reads both counters of the group led by `leader` into out[0] (minor) and
// out[1] (major); 0, or the errno.
static int PerfGroupRead(int leader, double* out) {
  uint64_t v[3];  // nr, minor, major
  ssize_t n = read(leader, v, sizeof v);
  if (n != static_cast<ssize_t>(sizeof v) || v[0] != 2) return n < 0 ? errno : EIO;
  out[0] = static_cast<double>(v[1]);
  out[1] = static_cast<double>(v[2]);
  return 0;
}

static void ClosePerfFds(void* arg) {
  int* fds = static_cast<int*>(arg);
  close(fds[0]);
  close(fds[1]);
  delete[] fds;
}

// perfFaultsOpen() -> [fdMinor, fdMajor] counting PERF_COUNT_SW_PAGE_FAULTS_MIN
// and _MAJ for the calling thread, from now on. Throws the errno on failure.
static Napi::Value PerfFaultsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int a = PerfOpen(PERF_COUNT_SW_PAGE_FAULTS_MIN, -1);
  if (a < 0) return ThrowErrno(env, errno, "perf_event_open", "PERF_COUNT_SW_PAGE_FAULTS_MIN, this thread");
  int b = PerfOpen(PERF_COUNT_SW_PAGE_FAULTS_MAJ, a);
  if (b < 0) {
    int e = errno;
    close(a);
    return ThrowErrno(env, e, "perf_event_open", "PERF_COUNT_SW_PAGE_FAULTS_MAJ, this thread");
  }
  // The counters belong to this thread's environment: closed when it is torn
  // down (a worker that measured and exits leaves no descriptors behind).
  int* fds = new int[2]{a, b};
  if (napi_add_env_cleanup_hook(env, ClosePerfFds, fds) != napi_ok) {
    delete[] fds;
    close(a);
    close(b);
    return ThrowInternal(env, "perfFaultsOpen: cannot register the cleanup hook");
  }
  return NumberPair(env, a, b);
}

// perfFaultsRead(fdMinor, fdMajor, out: Float64Array(2)): one read of the
// group perfFaultsOpen() made (fdMajor is its member, read with it).
static Napi::Value PerfFaultsRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t a, b;
  double* out;
  if (!DecodeArgs(info, "perfFaultsRead", 0, &a, &b) || !(out = OutF64(info, 2, 2, "perfFaultsRead"))) return env.Undefined();
  int err = PerfGroupRead(static_cast<int>(a), out);
  if (err) return ThrowErrno(env, err, "read", "perf event group fd " + std::to_string(a));
  return env.Undefined();
}

// faultsRead(who, out: Float64Array(2, or 4 with perf), fdMinor, fdMajor): one call for
// faults(): getrusage(who) into out[0..1] (minflt, majflt) and, where fdMinor
// >= 0, the perf counters perfFaultsOpen() gave into out[2..3] (one read of
// their group). A raw Node-API callback (hot path, see pagewise.h): one
// crossing instead of two.
static napi_value FaultsRead(napi_env env, napi_callback_info cb) {
  napi_value argv[4];
  size_t argc = RawArgs(env, cb, argv);
  int64_t who, a = -1, b = -1;
  double* out;
  if (!DecodeRawArgs(env, argv, argc, "faultsRead", 0, &who) || !DecodeRawArgs(env, argv, argc, "faultsRead", 2, &a, &b))
    return nullptr;
  if (!(out = RawOutArray<double>(env, argv[1], napi_float64_array, a < 0 ? 2 : 4)))
    return ThrowInternal(Napi::Env(env), a < 0 ? "faultsRead: need a Float64Array(2)" : "faultsRead: need a Float64Array(4)"), nullptr;
  struct rusage ru;
  if (getrusage(static_cast<int>(who), &ru) != 0)
    return ThrowErrno(Napi::Env(env), errno, "getrusage", "who=" + std::to_string(who)), nullptr;
  out[0] = static_cast<double>(ru.ru_minflt);
  out[1] = static_cast<double>(ru.ru_majflt);
  if (a < 0) return nullptr;
  int err = PerfGroupRead(static_cast<int>(a), out + 2);
  if (err) ThrowErrno(Napi::Env(env), err, "read", "perf event group fd " + std::to_string(a));
  return nullptr;
}

// clockMonotonic(out: Float64Array(2)) fills [seconds, nanoseconds] of
// CLOCK_MONOTONIC without allocating (process.hrtime.bigint() allocates a
// BigInt, which may fault a fresh heap page inside a measured window).
static Napi::Value ClockMonotonic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double* out = OutF64(info, 0, 2, "clockMonotonic");
  if (!out) return env.Undefined();
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  out[0] = static_cast<double>(ts.tv_sec);
  out[1] = static_cast<double>(ts.tv_nsec);
  return env.Undefined();
}

// mallinfo2() -> { arena, ordblks, hblks, hblkhd, uordblks, fordblks, keepcost }
// in bytes (glibc 2.33+; null where the C library lacks it). glibc's own
// figures for the main arena and the others together: in use (uordblks +
// hblkhd), free in the heap (fordblks), mmapped (hblkhd).
static Napi::Value Mallinfo2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arena", Napi::Number::New(env, static_cast<double>(mi.arena)));
  o.Set("ordblks", Napi::Number::New(env, static_cast<double>(mi.ordblks)));
  o.Set("hblks", Napi::Number::New(env, static_cast<double>(mi.hblks)));
  o.Set("hblkhd", Napi::Number::New(env, static_cast<double>(mi.hblkhd)));
  o.Set("uordblks", Napi::Number::New(env, static_cast<double>(mi.uordblks)));
  o.Set("fordblks", Napi::Number::New(env, static_cast<double>(mi.fordblks)));
  o.Set("keepcost", Napi::Number::New(env, static_cast<double>(mi.keepcost)));
  return o;
#else
  return env.Null();
#endif
}

void InitMeasure(Napi::Env env, Napi::Object exports) {
  exports.Set("mallinfo2", Napi::Function::New(env, Mallinfo2, "mallinfo2"));
  exports.Set("statmResident", Napi::Function::New(env, StatmResident, "statmResident"));
  exports.Set("smapsRollupRss", Napi::Function::New(env, SmapsRollupRss, "smapsRollupRss"));
  exports.Set("readProcSelf", Napi::Function::New(env, ReadProcSelf, "readProcSelf"));
  exports.Set("pagemapCount", Napi::Function::New(env, PagemapCount, "pagemapCount"));
  exports.Set("pagemapRead", Napi::Function::New(env, PagemapRead, "pagemapRead"));
  exports.Set("pagemapScan", Napi::Function::New(env, PagemapScan, "pagemapScan"));
  exports.Set("clockMonotonic", Napi::Function::New(env, ClockMonotonic, "clockMonotonic"));
  exports.Set("perfFaultsOpen", Napi::Function::New(env, PerfFaultsOpen, "perfFaultsOpen"));
  exports.Set("perfFaultsRead", Napi::Function::New(env, PerfFaultsRead, "perfFaultsRead"));
  exports.Set("faultsRead", RawFunction(env, "faultsRead", FaultsRead));
}

}  // namespace pagewise
