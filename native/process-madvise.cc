// process_madvise(2) on the own process (Linux 5.10; every advice since
// 6.13): many ranges advised in one system call per IOV_MAX of them, over
// ranges of Regions (checked against them) or by address (only advice that
// keeps every byte's value). Contract in pagewise.h; policy in lib/
// (adviseMany, the arena's purge, reclaim).
#include "region.h"
#include "uapi.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

namespace pagewise {

// A pidfd of this process, opened on first use and kept; -1 with errno set
// when pidfd_open fails (then tried again next time).
static int OwnPidfd() {
  static int pidfd = -1;
  if (pidfd < 0) pidfd = static_cast<int>(syscall(__NR_pidfd_open, getpid(), 0));
  if (pidfd < 0 && errno == 0) errno = ENOSYS;
  return pidfd;
}

// process_madvise over `iov`, IOV_MAX ranges per call. Returns
// [bytes advised, calls], or throws (and returns undefined). With `exact`, a
// short count (the kernel stopped at a range it could not advise) is an
// error (EAGAIN).
static Napi::Value AdviseIov(Napi::Env env, const std::vector<struct iovec>& iov, int64_t advice, bool exact) {
  int pidfd = OwnPidfd();
  if (pidfd < 0) return ThrowErrno(env, errno, "pidfd_open", "this process");
  long iovMax = sysconf(_SC_IOV_MAX);
  if (iovMax <= 0) iovMax = 1024;
  const size_t n = iov.size();
  double bytes = 0, calls = 0;
  for (size_t at = 0; at < n;) {
    const size_t k = std::min<size_t>(static_cast<size_t>(iovMax), n - at);
    long rc = syscall(__NR_process_madvise, pidfd, iov.data() + at, k, static_cast<int>(advice), 0U);
    calls++;
    if (rc < 0) return ThrowErrno(env, errno, "process_madvise", std::to_string(k) + " ranges, advice=" + std::to_string(advice));
    bytes += static_cast<double>(rc);
    if (exact) {
      size_t want = 0;
      for (size_t i = at; i < at + k; i++) want += iov[i].iov_len;
      if (static_cast<size_t>(rc) != want)
        return ThrowErrno(env, EAGAIN, "process_madvise", "advised " + std::to_string(rc) + " of " + std::to_string(want) + " bytes");
    }
    at += k;
  }
  return NumberPair(env, bytes, calls);
}

// processMadviseOwn(regions, offsets, lengths, advice) -> [bytes advised, calls]:
// ranges of Regions, each checked against its region first. A short count
// is reported (EAGAIN).
static Napi::Value ProcessMadviseOwn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t advice;
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray())
    return ThrowInternal(env, "processMadviseOwn: bad arguments");
  if (!DecodeArgs(info, "processMadviseOwn", 3, &advice)) return env.Undefined();
  Napi::Array regions = info[0].As<Napi::Array>();
  Napi::Array offs = info[1].As<Napi::Array>();
  Napi::Array lens = info[2].As<Napi::Array>();
  uint32_t n = regions.Length();
  if (offs.Length() != n || lens.Length() != n) return ThrowInternal(env, "processMadviseOwn: lengths differ");
  std::vector<struct iovec> iov(n);
  for (uint32_t i = 0; i < n; i++) {
    Region* r = UnwrapRegionValue(env, regions.Get(i), true);
    if (!r) return env.Undefined();
    uint64_t off, len;
    if (!DecodeValue(env, offs.Get(i), &off) || !DecodeValue(env, lens.Get(i), &len) || !RangeInside(r, off, len))
      return ThrowInternal(env, "processMadviseOwn: range outside its region");
    iov[i].iov_base = r->addr + off;
    iov[i].iov_len = len;
    if (advice == MADV_GUARD_INSTALL && len > 0) r->guarded = true;  // see Region::guarded
  }
  return AdviseIov(env, iov, advice, true);
}

// processMadviseAt(addresses: BigUint64Array, lengths: Float64Array, advice)
// -> [bytes advised, calls] over page-aligned ranges given by address. Only
// MADV_COLD, MADV_PAGEOUT and MADV_WILLNEED, which keep every byte's value:
// a wrong range costs a later fault, never data.
static Napi::Value ProcessMadviseAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BigUint64s addrs;
  Float64s lens;
  int64_t advice;
  if (!DecodeArgs(info, "processMadviseAt", 0, &addrs, &lens, &advice)) return env.Undefined();
  if (advice != MADV_COLD && advice != MADV_PAGEOUT && advice != MADV_WILLNEED)
    return ThrowInternal(env, "processMadviseAt: only MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED by address");
  if (addrs.length != lens.length) return ThrowInternal(env, "processMadviseAt: need a BigUint64Array and a Float64Array of one length");
  const size_t n = addrs.length;
  const uint64_t page = PageSize();
  std::vector<struct iovec> iov(n);
  for (size_t i = 0; i < n; i++) {
    if (addrs.data[i] % page != 0 || !(lens.data[i] >= 0) || static_cast<uint64_t>(lens.data[i]) % page != 0)
      return ThrowInternal(env, "processMadviseAt: ranges must be whole pages");
    iov[i].iov_base = reinterpret_cast<void*>(addrs.data[i]);
    iov[i].iov_len = static_cast<size_t>(lens.data[i]);
  }
  return AdviseIov(env, iov, advice, false);
}

// processMadviseProbe(advice) -> 0 or errno: process_madvise of one page of
// a fresh private mapping of our own; advice the kernel refuses for the own
// process fails with EINVAL before touching it.
static Napi::Value ProcessMadviseProbe(const Napi::CallbackInfo& info) {
  int64_t advice;
  if (!DecodeArgs(info, "processMadviseProbe", 0, &advice)) return info.Env().Undefined();
  int pidfd = OwnPidfd();
  if (pidfd < 0) return Napi::Number::New(info.Env(), errno);
  const uint64_t page = PageSize();
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int result = ENOMEM;
  if (p != MAP_FAILED) {
    struct iovec v = {p, static_cast<size_t>(page)};
    long rc = syscall(__NR_process_madvise, pidfd, &v, 1UL, static_cast<int>(advice), 0U);
    result = rc < 0 ? errno : 0;
    munmap(p, page);
  }
  return Napi::Number::New(info.Env(), result);
}

void InitProcessMadvise(Napi::Env env, Napi::Object exports) {
  exports.Set("processMadviseOwn", Napi::Function::New(env, ProcessMadviseOwn, "processMadviseOwn"));
  exports.Set("processMadviseAt", Napi::Function::New(env, ProcessMadviseAt, "processMadviseAt"));
  exports.Set("processMadviseProbe", Napi::Function::New(env, ProcessMadviseProbe, "processMadviseProbe"));
}

}  // namespace pagewise
