// C baselines for lib/bench that read /proc: the whole of a file, the
// resident size out of statm/smaps_rollup/status/stat, the pagemap (read and
// PAGEMAP_SCAN) and the mappings (text and PROCMAP_QUERY). Contract as in
// cbench.cc: the total time of the loop in nanoseconds, the last result in
// the sink.
#include "cbench.h"
#include "../uapi.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace pagewise {
namespace lab {

// Parses the resident bytes out of a /proc text: kind 0 = statm (second
// field, pages), 1 = smaps_rollup or status ("Rss:" / "VmRSS:" line, kB),
// 2 = stat (field 24, pages; split after the last ')').
static double ParseRss(const char* buf, ssize_t n, int kind, uint64_t page) {
  if (n <= 0) return -1;
  if (kind == 0) {
    const char* s = static_cast<const char*>(memchr(buf, ' ', static_cast<size_t>(n)));
    return s ? static_cast<double>(strtoull(s + 1, nullptr, 10) * page) : -1;
  }
  if (kind == 1) {
    const char* s = static_cast<const char*>(memmem(buf, static_cast<size_t>(n), "Rss:", 4));
    if (!s) s = static_cast<const char*>(memmem(buf, static_cast<size_t>(n), "VmRSS:", 6));
    if (!s) return -1;
    while (*s && (*s < '0' || *s > '9')) s++;
    return static_cast<double>(strtoull(s, nullptr, 10) * 1024);
  }
  const char* s = static_cast<const char*>(memrchr(buf, ')', static_cast<size_t>(n)));
  if (!s) return -1;
  // After ") " comes field 3 (state); rss is field 24: skip 21 spaces.
  for (int field = 2; field < 24 && s; field++) s = strchr(s + 1, ' ');
  return s ? static_cast<double>(strtoull(s + 1, nullptr, 10) * page) : -1;
}

// cbenchReadAll(path, iterations) -> ns: open, read the whole file in 64 KiB
// pieces, close; what a C program pays to get /proc/self/smaps or maps as
// text. The sink gets the bytes of the last read.
Napi::Value CReadAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t n;
  if (info.Length() < 1 || !info[0].IsString()) return ThrowInternal(env, "cbenchReadAll: bad arguments");
  if (!DecodeArgs(info, "cbenchReadAll", 1, &n)) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buf(1 << 16);
  double bytes = 0;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ThrowErrno(env, errno, "open", path);
    bytes = 0;
    for (;;) {
      ssize_t got = read(fd, buf.data(), buf.size());
      if (got < 0) {
        int e = errno;
        close(fd);
        return ThrowErrno(env, e, "read", path);
      }
      if (got == 0) break;
      bytes += static_cast<double>(got);
    }
    close(fd);
  }
  Napi::Value t = Ns(env, t0);
  g_sink = bytes;
  return t;
}

// cbenchProcRead(path, iterations, keepFd: 0|1, kind) -> ns: reads a /proc
// file and parses the resident size out of it (kind as in ParseRss). With
// keepFd the file is opened once before the clock starts and read with
// pread(0) each time; without, each iteration is open/read/close.
Napi::Value CProcRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t n, keep;
  int64_t kind;
  if (info.Length() < 1 || !info[0].IsString()) return ThrowInternal(env, "cbenchProcRead: bad arguments");
  if (!DecodeArgs(info, "cbenchProcRead", 1, &n, &keep, &kind)) return env.Undefined();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  const uint64_t page = PageSize();
  static thread_local char buf[1 << 14];
  int fd = -1;
  if (keep) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ThrowErrno(env, errno, "open", path);
  }
  double v = 0;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    ssize_t got;
    if (keep) {
      got = pread(fd, buf, sizeof buf - 1, 0);
    } else {
      fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ThrowErrno(env, errno, "open", path);
      got = read(fd, buf, sizeof buf - 1);
      close(fd);
    }
    if (got < 0) {
      int e = errno;
      if (keep) close(fd);
      return ThrowErrno(env, e, keep ? "pread" : "read", path);
    }
    buf[got] = 0;
    v = ParseRss(buf, got, static_cast<int>(kind), page);
  }
  Napi::Value t = Ns(env, t0);
  if (keep) close(fd);
  g_sink = v;
  return t;
}

static int g_pagemapFd = -1;

static int PagemapFd() {
  if (g_pagemapFd < 0) g_pagemapFd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  return g_pagemapFd;
}

// cbenchPagemap(address, length, iterations) -> ns: pread of
// /proc/self/pagemap over the range (a kept descriptor, a buffer allocated
// before the clock starts), counting entries with bit 63 (present) set.
Napi::Value CPagemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, n;
  if (!LabRange(info, 0, "cbenchPagemap", &p, &len) || !DecodeArgs(info, "cbenchPagemap", 2, &n)) return env.Undefined();
  int fd = PagemapFd();
  if (fd < 0) return ThrowErrno(env, errno, "open", "/proc/self/pagemap");
  const uint64_t page = PageSize();
  const uint64_t pages = (len + page - 1) / page;
  std::vector<uint64_t> entries(pages ? pages : 1);
  const off_t at = static_cast<off_t>(reinterpret_cast<uint64_t>(p) / page * sizeof(uint64_t));
  uint64_t count = 0;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t done = 0;
    while (done < pages * sizeof(uint64_t)) {
      ssize_t got = pread(fd, reinterpret_cast<char*>(entries.data()) + done, pages * sizeof(uint64_t) - done,
                          at + static_cast<off_t>(done));
      if (got <= 0) return ThrowErrno(env, got < 0 ? errno : EIO, "pread", "/proc/self/pagemap");
      done += static_cast<uint64_t>(got);
    }
    count = 0;
    for (uint64_t k = 0; k < pages; k++) count += entries[k] >> 63;
  }
  Napi::Value t = Ns(env, t0);
  g_sink = static_cast<double>(count);
  return t;
}

// cbenchPagemapScan(address, length, iterations, full) -> ns:
// ioctl(PAGEMAP_SCAN) for PAGE_IS_PRESENT ranges, summed to a page count.
// With full = 1, the same masks residency() asks for (any of present or
// swapped; return present, swapped, pfn-zero, file, soft-dirty, huge).
// Throws (ENOTTY/EINVAL) where the kernel lacks the ioctl.
Napi::Value CPagemapScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, n, full;
  if (!LabRange(info, 0, "cbenchPagemapScan", &p, &len) || !DecodeArgs(info, "cbenchPagemapScan", 2, &n, &full))
    return env.Undefined();
  int fd = PagemapFd();
  if (fd < 0) return ThrowErrno(env, errno, "open", "/proc/self/pagemap");
  const uint64_t page = PageSize();
  std::vector<uapi::page_region> vec(1024);
  const uint64_t start = reinterpret_cast<uint64_t>(p);
  const uint64_t end = start + (len + page - 1) / page * page;
  uint64_t count = 0;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    count = 0;
    for (uint64_t at = start; at < end;) {
      uapi::pm_scan_arg arg{};
      arg.size = sizeof arg;
      arg.start = at;
      arg.end = end;
      arg.vec = reinterpret_cast<uint64_t>(vec.data());
      arg.vec_len = vec.size();
      if (full) {
        arg.category_anyof_mask = uapi::PAGE_IS_PRESENT | uapi::PAGE_IS_SWAPPED;
        arg.return_mask = uapi::PAGE_IS_PRESENT | uapi::PAGE_IS_SWAPPED | uapi::PAGE_IS_PFNZERO | uapi::PAGE_IS_FILE | uapi::PAGE_IS_SOFT_DIRTY | uapi::PAGE_IS_HUGE;
      } else {
        arg.category_mask = uapi::PAGE_IS_PRESENT;
        arg.return_mask = uapi::PAGE_IS_PRESENT;
      }
      long got = ioctl(fd, uapi::PAGEMAP_SCAN, &arg);
      if (got < 0) return ThrowErrno(env, errno, "ioctl", "PAGEMAP_SCAN, " + RangeText(reinterpret_cast<void*>(at), end - at));
      for (long k = 0; k < got; k++)
        if (vec[k].categories & uapi::PAGE_IS_PRESENT) count += (vec[k].end - vec[k].start) / page;
      if (arg.walk_end <= at) break;
      at = arg.walk_end;
    }
  }
  Napi::Value t = Ns(env, t0);
  g_sink = static_cast<double>(count);
  return t;
}

// cbenchMaps(mode, iterations, address: bigint) -> ns of a C loop (the maps
// benchmarks' C baselines): mode 0 reads the whole /proc/self/maps text
// (open, read to the end, close); 1 lists every VMA by PROCMAP_QUERY; 2
// queries the VMA covering `address`.
Napi::Value CbenchMaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t mode, n;
  uint64_t addr;
  Address at0;
  if (!DecodeArgs(info, "cbenchMaps", 0, &mode, &n, &at0)) return env.Undefined();
  addr = at0.value;
  static thread_local char buf[1 << 16];
  int qfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (qfd < 0) return ThrowErrno(env, errno, "open", "/proc/self/maps");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int64_t i = 0; i < n; i++) {
    if (mode == 0) {
      int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
      while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
      }
      if (fd >= 0) close(fd);
      continue;
    }
    uint64_t at = mode == 2 ? addr : 0;
    do {
      uapi::procmap_query q;
      memset(&q, 0, sizeof q);
      q.size = sizeof q;
      q.query_addr = at;
      q.query_flags = mode == 2 ? 0 : uapi::COVERING_OR_NEXT_VMA;
      q.vma_name_addr = reinterpret_cast<uint64_t>(buf);
      q.vma_name_size = sizeof buf;
      if (ioctl(qfd, uapi::PROCMAP_QUERY, &q) != 0) break;
      at = q.vma_end;
    } while (mode == 1);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  close(qfd);
  return Napi::Number::New(env, (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
}

#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif

}  // namespace lab
}  // namespace pagewise
