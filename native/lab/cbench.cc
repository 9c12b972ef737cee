// C baselines for lib/bench: tight C loops doing the same system calls over
// the same ranges as the pagewise call they are compared with, run in the same
// process, so a benchmark can report "ratio to the physical limit".
//
// Contract (on top of pagewise.h): every function returns the total time in
// nanoseconds (a Number) measured with clock_gettime(CLOCK_MONOTONIC) around
// the loop only: setup (opening a file, allocating a vector) is outside the
// timed part. Results the loop computes (a page count, an RSS figure) go to a
// volatile sink so the compiler cannot drop the work; cbenchLastValue()
// returns the last one, so tests can check that the loop did what it says.
// Memory is the caller's range, (address: BigInt, length) as lab.h says, or
// is mmap'd and unmapped inside the function. A failing system call throws
// through ThrowErrno like every other native function.
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


volatile double g_sink = 0;

// cbenchMadvise(address, length, advice, iterations) -> ns
static Napi::Value CMadvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, n;
  int64_t advice;
  if (!LabRange(info, 0, "cbenchMadvise", &p, &len) || !DecodeArgs(info, "cbenchMadvise", 2, &advice, &n)) return env.Undefined();
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++)
    if (madvise(p, len, static_cast<int>(advice)) != 0)
      return ThrowErrno(env, errno, "madvise", RangeText(p, len) + ", advice=" + std::to_string(advice));
  return Ns(env, t0);
}

// cbenchMprotect(address, length, protA, protB, iterations) -> ns; each
// iteration is mprotect(protA) then mprotect(protB). This module cannot see
// the Mapping's ArrayBuffers: when a protection lacks write, lib/native-lab.ts
// detaches them first, as the core's mprotect does (a JS write through one
// would kill the process).
static Napi::Value CMprotect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, n;
  int64_t a, b;
  if (!LabRange(info, 0, "cbenchMprotect", &p, &len) || !DecodeArgs(info, "cbenchMprotect", 2, &a, &b, &n)) return env.Undefined();
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    if (mprotect(p, len, static_cast<int>(a)) != 0)
      return ThrowErrno(env, errno, "mprotect", RangeText(p, len) + ", prot=" + std::to_string(a));
    if (mprotect(p, len, static_cast<int>(b)) != 0)
      return ThrowErrno(env, errno, "mprotect", RangeText(p, len) + ", prot=" + std::to_string(b));
  }
  return Ns(env, t0);
}

// cbenchMincore(address, length, iterations) -> ns: one mincore() over the
// range into a vector allocated before the clock starts, then the count of
// resident pages (what residentPages() returns).
static Napi::Value CMincore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, n;
  if (!LabRange(info, 0, "cbenchMincore", &p, &len) || !DecodeArgs(info, "cbenchMincore", 2, &n)) return env.Undefined();
  const uint64_t page = PageSize();
  const uint64_t pages = (len + page - 1) / page;
  std::vector<unsigned char> vec(pages ? pages : 1);
  uint64_t count = 0;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    if (mincore(p, len, vec.data()) != 0) return ThrowErrno(env, errno, "mincore", RangeText(p, len));
    count = 0;
    for (uint64_t k = 0; k < pages; k++) count += vec[k] & 1;
  }
  Napi::Value t = Ns(env, t0);
  g_sink = static_cast<double>(count);
  return t;
}

// cbenchMmapMunmap(length, iterations, touch: 0|1) -> ns: mmap(PRIVATE|ANON,
// READ|WRITE) then munmap; with touch, one byte written per page in between.
static Napi::Value CMmapMunmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t len, n, touch;
  if (!DecodeArgs(info, "cbenchMmapMunmap", 0, &len, &n, &touch)) return env.Undefined();
  const uint64_t page = PageSize();
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return ThrowErrno(env, errno, "mmap", "length=" + std::to_string(len));
    if (touch)
      for (uint64_t o = 0; o < len; o += page) static_cast<volatile uint8_t*>(p)[o] = 1;
    if (munmap(p, len) != 0) return ThrowErrno(env, errno, "munmap", RangeText(p, len));
  }
  return Ns(env, t0);
}

// cbenchMmapPopulate(length) -> ns of mmap(MAP_POPULATE) alone (the munmap
// after it is not timed).
static Napi::Value CMmapPopulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t len;
  if (!DecodeArgs(info, "cbenchMmapPopulate", 0, &len)) return env.Undefined();
  uint64_t t0 = NowNs();
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  uint64_t t = NowNs() - t0;
  if (p == MAP_FAILED) return ThrowErrno(env, errno, "mmap", "length=" + std::to_string(len) + ", MAP_POPULATE");
  munmap(p, len);
  return Napi::Number::New(env, static_cast<double>(t));
}

// cbenchTouch(address, length, stride) -> ns: writes one byte every
// `stride` bytes (a first-touch loop when the pages are fresh).
static Napi::Value CTouch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* at;
  uint64_t len, stride;
  if (!LabRange(info, 0, "cbenchTouch", &at, &len) || !DecodeArgs(info, "cbenchTouch", 2, &stride)) return env.Undefined();
  if (stride == 0) return ThrowInternal(env, "cbenchTouch: bad stride");
  volatile uint8_t* p = at;
  uint64_t t0 = NowNs();
  for (uint64_t o = 0; o < len; o += stride) p[o] = 1;
  return Ns(env, t0);
}

// cbenchMemset(address, length, byte) -> ns
static Napi::Value CMemset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len;
  int64_t byte;
  if (!LabRange(info, 0, "cbenchMemset", &p, &len) || !DecodeArgs(info, "cbenchMemset", 2, &byte)) return env.Undefined();
  uint64_t t0 = NowNs();
  memset(p, static_cast<int>(byte), len);
  Napi::Value t = Ns(env, t0);
  g_sink = len ? p[0] : 0;
  return t;
}

// cbenchGetrusage(who, iterations) -> ns; the sink gets ru_minflt.
static Napi::Value CGetrusage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t who;
  uint64_t n;
  if (!DecodeArgs(info, "cbenchGetrusage", 0, &who, &n)) return env.Undefined();
  struct rusage ru;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++)
    if (getrusage(static_cast<int>(who), &ru) != 0) return ThrowErrno(env, errno, "getrusage", "who=" + std::to_string(who));
  Napi::Value t = Ns(env, t0);
  g_sink = static_cast<double>(ru.ru_minflt);
  return t;
}

// cbenchGetrusagePerf(iterations) -> ns: what faults() does by default, in
// C: getrusage(RUSAGE_THREAD) then one read of a group of two perf software
// counters (PAGE_FAULTS_MIN leading with PERF_FORMAT_GROUP, _MAJ) of this
// thread, opened before the clock starts; throws the errno of
// perf_event_open where perf is not allowed. The sink gets ru_minflt.
static Napi::Value CGetrusagePerf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t n;
  if (!DecodeArgs(info, "cbenchGetrusagePerf", 0, &n)) return env.Undefined();
  int fds[2];
  const uint64_t configs[2] = {PERF_COUNT_SW_PAGE_FAULTS_MIN, PERF_COUNT_SW_PAGE_FAULTS_MAJ};
  for (int i = 0; i < 2; i++) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = configs[i];
    if (i == 0) attr.read_format = PERF_FORMAT_GROUP;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fds[i] = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, i == 0 ? -1 : fds[0], PERF_FLAG_FD_CLOEXEC));
    if (fds[i] < 0) {
      int e = errno;
      if (i == 1) close(fds[0]);
      return ThrowErrno(env, e, "perf_event_open", "page-fault counters of this thread");
    }
  }
  struct rusage ru;
  uint64_t v[3] = {0, 0, 0};
  int err = 0;
  const char* call = nullptr;
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n && !err; i++) {
    if (getrusage(RUSAGE_THREAD, &ru) != 0) err = errno, call = "getrusage";
    else if (read(fds[0], v, sizeof v) != static_cast<ssize_t>(sizeof v)) err = errno ? errno : EIO, call = "read";
  }
  Napi::Value t = Ns(env, t0);
  close(fds[1]);
  close(fds[0]);
  if (err) return ThrowErrno(env, err, call, "getrusage and perf counters");
  g_sink = static_cast<double>(ru.ru_minflt) + static_cast<double>(v[1]);
  return t;
}

// cbenchMallocFree(size, iterations) -> ns: glibc malloc+free (the C
// allocator a native program would use), writing the first byte so the
// pair is not optimized away.
static Napi::Value CMallocFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size, n;
  if (!DecodeArgs(info, "cbenchMallocFree", 0, &size, &n)) return env.Undefined();
  uint64_t t0 = NowNs();
  for (uint64_t i = 0; i < n; i++) {
    volatile uint8_t* p = static_cast<uint8_t*>(malloc(size));
    if (!p) return ThrowErrno(env, ENOMEM, "malloc", "size=" + std::to_string(size));
    p[0] = 1;
    free(const_cast<uint8_t*>(p));
  }
  return Ns(env, t0);
}

// cbenchNow() -> CLOCK_MONOTONIC ns (for checking the two clocks agree).
static Napi::Value CNow(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(NowNs()));
}

// cbenchLastValue() -> what the last loop computed (page count, RSS bytes,
// minflt), for tests.
static Napi::Value CLastValue(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), g_sink);
}

// cbenchDontneedRanges(address, length, count, batched) -> ns: the range
// holds `count` slots of length / count bytes; the first page of each slot is
// one range. Untimed: one byte written to every range's page (dirty pages, as
// experiment 12 writes them from JS). Timed: MADV_DONTNEED of every range,
// one madvise each (batched 0) or one process_madvise(pidfd of this process,
// iov[count <= IOV_MAX]) (batched 1). Last value: the ranges advised.
static Napi::Value CDontneedRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p;
  uint64_t len, count, batched;
  if (!LabRange(info, 0, "cbenchDontneedRanges", &p, &len) || !DecodeArgs(info, "cbenchDontneedRanges", 2, &count, &batched)) return env.Undefined();
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (count == 0 || count > 1024 || len / count < page) return ThrowErrno(env, EINVAL, "cbenchDontneedRanges", RangeText(p, len) + ", count=" + std::to_string(count));
  const uint64_t stride = (len / count) / page * page;
  std::vector<iovec> iov(count);
  for (uint64_t i = 0; i < count; i++) {
    p[i * stride] = 1;
    iov[i].iov_base = p + i * stride;
    iov[i].iov_len = page;
  }
  static int pidfd = -2;
  if (batched && pidfd == -2) pidfd = static_cast<int>(syscall(__NR_pidfd_open, getpid(), 0));
  if (batched && pidfd < 0) {
    pidfd = -2;
    return ThrowErrno(env, errno ? errno : ENOSYS, "pidfd_open", "this process");
  }
  uint64_t t0 = NowNs();
  if (batched) {
    long rc = syscall(__NR_process_madvise, pidfd, iov.data(), count, MADV_DONTNEED, 0U);
    if (rc < 0) return ThrowErrno(env, errno, "process_madvise", std::to_string(count) + " ranges");
  } else {
    for (uint64_t i = 0; i < count; i++)
      if (madvise(iov[i].iov_base, page, MADV_DONTNEED) != 0) return ThrowErrno(env, errno, "madvise", RangeText(iov[i].iov_base, page));
  }
  Napi::Value t = Ns(env, t0);
  g_sink = static_cast<double>(count);
  return t;
}

void InitCBench(Napi::Env env, Napi::Object exports) {
  exports.Set("cbenchMadvise", Napi::Function::New(env, CMadvise, "cbenchMadvise"));
  exports.Set("cbenchMprotect", Napi::Function::New(env, CMprotect, "cbenchMprotect"));
  exports.Set("cbenchMincore", Napi::Function::New(env, CMincore, "cbenchMincore"));
  exports.Set("cbenchMmapMunmap", Napi::Function::New(env, CMmapMunmap, "cbenchMmapMunmap"));
  exports.Set("cbenchMmapPopulate", Napi::Function::New(env, CMmapPopulate, "cbenchMmapPopulate"));
  exports.Set("cbenchTouch", Napi::Function::New(env, CTouch, "cbenchTouch"));
  exports.Set("cbenchMemset", Napi::Function::New(env, CMemset, "cbenchMemset"));
  exports.Set("cbenchGetrusage", Napi::Function::New(env, CGetrusage, "cbenchGetrusage"));
  exports.Set("cbenchProcRead", Napi::Function::New(env, CProcRead, "cbenchProcRead"));
  exports.Set("cbenchGetrusagePerf", Napi::Function::New(env, CGetrusagePerf, "cbenchGetrusagePerf"));
  exports.Set("cbenchReadAll", Napi::Function::New(env, CReadAll, "cbenchReadAll"));
  exports.Set("cbenchPagemap", Napi::Function::New(env, CPagemap, "cbenchPagemap"));
  exports.Set("cbenchPagemapScan", Napi::Function::New(env, CPagemapScan, "cbenchPagemapScan"));
  exports.Set("cbenchMallocFree", Napi::Function::New(env, CMallocFree, "cbenchMallocFree"));
  exports.Set("cbenchNow", Napi::Function::New(env, CNow, "cbenchNow"));
  exports.Set("cbenchLastValue", Napi::Function::New(env, CLastValue, "cbenchLastValue"));
  exports.Set("cbenchMaps", Napi::Function::New(env, CbenchMaps, "cbenchMaps"));
  exports.Set("cbenchDontneedRanges", Napi::Function::New(env, CDontneedRanges, "cbenchDontneedRanges"));
}

}  // namespace lab
}  // namespace pagewise
