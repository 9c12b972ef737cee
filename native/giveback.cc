// Giving memory back to the kernel from anywhere in the process (issue 27):
// malloc_trim, the THP opt-out prctl, mincore and process_madvise by address.
// Contract in pagewise.h; policy in lib/process/. The by-address calls are
// the ones that cannot harm memory they do not own: mincore only reads the
// page tables, and processMadviseAt accepts only advice that keeps contents
// (MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED).
#include "args.h"
#include "uapi.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace pagewise {

// mallocTrim(pad) -> 1 when memory was given back, 0 otherwise, -1 where the
// C library has no malloc_trim (glibc only).
static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  uint64_t pad;
  if (!DecodeArgs(info, "mallocTrim", 0, &pad)) return info.Env().Undefined();
#ifdef __GLIBC__
  return Napi::Number::New(info.Env(), malloc_trim(static_cast<size_t>(pad)));
#else
  return Napi::Number::New(info.Env(), -1);
#endif
}

// prctlSetThpDisable(disable: 0|1, flags): prctl(PR_SET_THP_DISABLE, disable, flags, 0, 0).
static Napi::Value PrctlSetThpDisable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t disable, flags;
  if (!DecodeArgs(info, "prctlSetThpDisable", 0, &disable, &flags)) return env.Undefined();
  if (prctl(PR_SET_THP_DISABLE, static_cast<unsigned long>(disable), static_cast<unsigned long>(flags), 0UL, 0UL) != 0)
    return ThrowErrno(env, errno, "prctl", "PR_SET_THP_DISABLE, " + std::to_string(disable) + ", flags=" + std::to_string(flags));
  return env.Undefined();
}

// prctlGetThpDisable() -> prctl(PR_GET_THP_DISABLE): 0, 1 (disabled), or
// 1 | PR_THP_DISABLE_EXCEPT_ADVISED (6.18).
static Napi::Value PrctlGetThpDisable(const Napi::CallbackInfo& info) {
  int rc = prctl(PR_GET_THP_DISABLE, 0UL, 0UL, 0UL, 0UL);
  if (rc < 0) return ThrowErrno(info.Env(), errno, "prctl", "PR_GET_THP_DISABLE");
  return Napi::Number::New(info.Env(), rc);
}

// mincoreAt(address: bigint, length, vec: Uint8Array | null) -> resident
// pages of [address, address + length) (address page-aligned). Reads page
// tables only, so any address is safe: an unmapped one fails ENOMEM. The
// kernel writes into a scratch sized for 4 KiB pages (see mman.cc: qemu-user
// writes one byte per host page).
static Napi::Value MincoreAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address at;
  uint64_t len;
  Bytes vec;
  if (!DecodeArgs(info, "mincoreAt", 0, &at, &len, &vec)) return env.Undefined();
  const uint64_t addr = at.value;
  const uint64_t page = PageSize();
  const uint64_t pages = (len + page - 1) / page;
  unsigned char* out = vec.data;
  if (out && vec.length < pages) return ThrowInternal(env, "mincoreAt: vector too small");
  const uint64_t step = std::min<uint64_t>(pages, uint64_t{1} << 20);
  std::vector<unsigned char> scratch(std::max<uint64_t>(1, step * std::max<uint64_t>(1, page >> 12)));
  uint64_t count = 0;
  for (uint64_t done = 0; done < pages; done += step) {
    const uint64_t n = std::min(step, pages - done);
    const uint64_t bytes = std::min(n * page, len - done * page);
    if (mincore(reinterpret_cast<void*>(addr + done * page), bytes, scratch.data()) != 0)
      return ThrowErrno(env, errno, "mincore", "addr=" + Hex(addr + done * page) + ", length=" + std::to_string(bytes));
    for (uint64_t i = 0; i < n; i++) count += scratch[i] & 1;
    if (out) memcpy(out + done, scratch.data(), n);
  }
  return Napi::Number::New(env, static_cast<double>(count));
}

// processMadviseAt(addresses: BigUint64Array, lengths: Float64Array, advice)
// -> [bytes advised, calls]: process_madvise(pidfd of this process, iov[<=
// IOV_MAX], advice, 0) over page-aligned ranges given by address. Only
// MADV_COLD, MADV_PAGEOUT and MADV_WILLNEED, which keep every byte's value:
// a wrong range costs a later fault, never data.
static Napi::Value ProcessMadviseAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BigUint64s a;
  Float64s l;
  int64_t advice;
  if (!DecodeArgs(info, "processMadviseAt", 0, &a, &l, &advice)) return env.Undefined();
  if (advice != MADV_COLD && advice != MADV_PAGEOUT && advice != MADV_WILLNEED)
    return ThrowInternal(env, "processMadviseAt: only MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED by address");
  if (a.length != l.length) return ThrowInternal(env, "processMadviseAt: need a BigUint64Array and a Float64Array of one length");
  const uint64_t* addrs = a.data;
  const double* lens = l.data;
  const size_t n = a.length;
  const uint64_t page = PageSize();
  std::vector<struct iovec> iov(n);
  for (size_t i = 0; i < n; i++) {
    if (addrs[i] % page != 0 || !(lens[i] >= 0) || static_cast<uint64_t>(lens[i]) % page != 0)
      return ThrowInternal(env, "processMadviseAt: ranges must be whole pages");
    iov[i].iov_base = reinterpret_cast<void*>(addrs[i]);
    iov[i].iov_len = static_cast<size_t>(lens[i]);
  }
  static int pidfd = -2;
  if (pidfd == -2) pidfd = static_cast<int>(syscall(__NR_pidfd_open, getpid(), 0));
  if (pidfd < 0) {
    pidfd = -2;
    return ThrowErrno(env, errno ? errno : ENOSYS, "pidfd_open", "this process");
  }
  long iovMax = sysconf(_SC_IOV_MAX);
  if (iovMax <= 0) iovMax = 1024;
  double bytes = 0, calls = 0;
  for (size_t at = 0; at < n;) {
    const size_t k = std::min<size_t>(static_cast<size_t>(iovMax), n - at);
    long rc = syscall(__NR_process_madvise, pidfd, iov.data() + at, k, static_cast<int>(advice), 0U);
    calls++;
    if (rc < 0) return ThrowErrno(env, errno, "process_madvise", std::to_string(k) + " ranges, advice=" + std::to_string(advice));
    bytes += static_cast<double>(rc);
    at += k;
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, bytes));
  out.Set(1u, Napi::Number::New(env, calls));
  return out;
}

// userfaultfdWpAsync(start: bigint, length) -> fd: a userfaultfd
// (UFFD_USER_MODE_ONLY, so no privilege is needed) in asynchronous
// write-protect mode registered over [start, start + length). Three calls in
// one function on purpose: registering MODE_WP without UFFD_FEATURE_WP_ASYNC
// would make a write to a protected page wait for a handler that does not
// exist (a hang), so the register is done only after the kernel granted
// WP_ASYNC. Throws with the failing call as syscall (ENOSYS/EPERM without
// userfaultfd, EINVAL where the range is not anonymous memory or before 6.7).
static Napi::Value UserfaultfdWpAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address at;
  uint64_t len;
  if (!DecodeArgs(info, "userfaultfdWpAsync", 0, &at, &len)) return env.Undefined();
  const uint64_t start = at.value;
  int fd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | uapi::UFFD_USER_MODE_ONLY));
  if (fd < 0) return ThrowErrno(env, errno, "userfaultfd", "UFFD_USER_MODE_ONLY");
  uapi::uffdio_api api = {uapi::UFFD_API, uapi::UFFD_FEATURE_WP_ASYNC | uapi::UFFD_FEATURE_WP_UNPOPULATED, 0};
  if (ioctl(fd, uapi::UFFDIO_API, &api) != 0 || !(api.features & uapi::UFFD_FEATURE_WP_ASYNC)) {
    int err = errno ? errno : EINVAL;
    close(fd);
    return ThrowErrno(env, err, "ioctl", "UFFDIO_API, features=UFFD_FEATURE_WP_ASYNC|UFFD_FEATURE_WP_UNPOPULATED");
  }
  uapi::uffdio_register reg = {{start, len}, uapi::UFFDIO_REGISTER_MODE_WP, 0};
  if (ioctl(fd, uapi::UFFDIO_REGISTER, &reg) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "ioctl", "UFFDIO_REGISTER MODE_WP, addr=" + Hex(start) + ", length=" + std::to_string(len));
  }
  return Napi::Number::New(env, fd);
}

void InitGiveBack(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("prctlSetThpDisable", Napi::Function::New(env, PrctlSetThpDisable, "prctlSetThpDisable"));
  exports.Set("prctlGetThpDisable", Napi::Function::New(env, PrctlGetThpDisable, "prctlGetThpDisable"));
  exports.Set("mincoreAt", Napi::Function::New(env, MincoreAt, "mincoreAt"));
  exports.Set("processMadviseAt", Napi::Function::New(env, ProcessMadviseAt, "processMadviseAt"));
  exports.Set("userfaultfdWpAsync", Napi::Function::New(env, UserfaultfdWpAsync, "userfaultfdWpAsync"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("PAGE_IS_WRITTEN", static_cast<double>(uapi::PAGE_IS_WRITTEN));
  c.Set("PAGE_IS_PRESENT", static_cast<double>(uapi::PAGE_IS_PRESENT));
  c.Set("PAGE_IS_SWAPPED", static_cast<double>(uapi::PAGE_IS_SWAPPED));
  c.Set("PAGE_IS_SOFT_DIRTY", static_cast<double>(uapi::PAGE_IS_SOFT_DIRTY));
  c.Set("PR_THP_DISABLE_EXCEPT_ADVISED", static_cast<double>(PR_THP_DISABLE_EXCEPT_ADVISED));
  exports.Set("givebackConstants", c);
}

}  // namespace pagewise
