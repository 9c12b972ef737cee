// Giving memory back to the kernel from anywhere in the process: malloc_trim,
// mincore by address, and the userfaultfd that write tracking (lib/process/)
// registers. Contract in pagewise.h; policy in lib/process/. process_madvise
// by address is in process-madvise.cc, PAGEMAP_SCAN in pagemap-scan.cc, the
// THP opt-out prctl in prctl.cc. mincore by address cannot harm memory it
// does not own: it only reads the page tables.
#include "args.h"
#include "uapi.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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
  exports.Set("mincoreAt", Napi::Function::New(env, MincoreAt, "mincoreAt"));
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
