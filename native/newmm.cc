// The memory calls Linux gained since 6.x, each probed at run time: mseal
// (6.10), MADV_GUARD_INSTALL/REMOVE (6.13), PROCMAP_QUERY (6.11),
// process_madvise on the own process (5.10; every advice since 6.13),
// memfd_secret (5.14, secretmem.enable). Fallbacks for older headers are in
// uapi.h.
// Contract in pagewise.h; policy in lib/newmm.ts.
#include "args.h"
#include "region.h"
#include "uapi.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace pagewise {


// regionSeal(region): mseal(2) over the whole region. Afterwards the kernel
// refuses munmap, mprotect, mremap and destructive madvise on it for the
// life of the process, so pagewise never tries to unmap it again.
static Napi::Value RegionSeal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  if (syscall(__NR_mseal, r->addr, r->length, 0UL) != 0)
    return ThrowErrno(env, errno, "mseal", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", length=" + std::to_string(r->length));
  r->leak = true;  // ReleaseMemory never unmaps it
  r->keepData = true;
  r->sealed = true;
  return env.Undefined();
}

// msealProbe() -> 0 or errno: mseal of a page of our own (then unmapped? no:
// a sealed page stays for the life of the process, so the probe seals a
// zero-length range, which the kernel accepts where it has mseal).
static Napi::Value MsealProbe(const Napi::CallbackInfo& info) {
  long rc = syscall(__NR_mseal, nullptr, 0UL, 0UL);
  return Napi::Number::New(info.Env(), rc == 0 ? 0 : errno);
}

// processMadviseOwn(regions, offsets, lengths, advice) -> [bytes advised, calls]
// process_madvise(pidfd of this process, iov[<= IOV_MAX], advice, 0): the
// ranges are checked against their regions first.
static Napi::Value ProcessMadviseOwn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray())
    return ThrowInternal(env, "processMadviseOwn: bad arguments");
  Napi::Array regions = info[0].As<Napi::Array>();
  Napi::Array offs = info[1].As<Napi::Array>();
  Napi::Array lens = info[2].As<Napi::Array>();
  int64_t advice;
  if (!DecodeArgs(info, "processMadviseOwn", 3, &advice)) return env.Undefined();
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
  static int pidfd = -2;
  if (pidfd == -2) pidfd = static_cast<int>(syscall(__NR_pidfd_open, getpid(), 0));
  if (pidfd < 0) return ThrowErrno(env, errno ? errno : ENOSYS, "pidfd_open", "this process");
  long iovMax = sysconf(_SC_IOV_MAX);
  if (iovMax <= 0) iovMax = 1024;
  double bytes = 0, calls = 0;
  for (uint32_t at = 0; at < n;) {
    uint32_t k = static_cast<uint32_t>(std::min<long>(iovMax, n - at));
    long rc = syscall(__NR_process_madvise, pidfd, iov.data() + at, static_cast<size_t>(k), static_cast<int>(advice), 0U);
    calls++;
    if (rc < 0) return ThrowErrno(env, errno, "process_madvise", std::to_string(k) + " ranges, advice=" + std::to_string(advice));
    bytes += static_cast<double>(rc);
    // A short count means the kernel stopped early (a range it could not advise): report it.
    size_t want = 0;
    for (uint32_t i = at; i < at + k; i++) want += iov[i].iov_len;
    if (static_cast<size_t>(rc) != want)
      return ThrowErrno(env, EAGAIN, "process_madvise", "advised " + std::to_string(rc) + " of " + std::to_string(want) + " bytes");
    at += k;
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, bytes));
  out.Set(1u, Napi::Number::New(env, calls));
  return out;
}

// processMadviseProbe(advice) -> 0 or errno: process_madvise of an empty
// iovec on the own process (the kernel checks the advice before the ranges).
static Napi::Value ProcessMadviseProbe(const Napi::CallbackInfo& info) {
  int64_t advice;
  if (!DecodeArgs(info, "processMadviseProbe", 0, &advice)) return info.Env().Undefined();
  int pidfd = static_cast<int>(syscall(__NR_pidfd_open, getpid(), 0));
  if (pidfd < 0) return Napi::Number::New(info.Env(), errno);
  // A one-page range of a fresh private mapping: advices the kernel refuses
  // for the own process fail with EINVAL before touching it.
  const uint64_t page = PageSize();
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int result = ENOMEM;
  if (p != MAP_FAILED) {
    struct iovec v = {p, static_cast<size_t>(page)};
    long rc = syscall(__NR_process_madvise, pidfd, &v, 1UL, static_cast<int>(advice), 0U);
    result = rc < 0 ? errno : 0;
    munmap(p, page);
  }
  close(pidfd);
  return Napi::Number::New(info.Env(), result);
}

// procmapQuery(fd, address: bigint, next: boolean, nameBuf: Uint8Array) ->
// [start, end, flags, pageSize, offset, inode, devMajor, devMinor, nameLength] (bigint for addresses)
// or null when nothing covers (or follows) the address (ENOENT).
static Napi::Value ProcmapQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  Address at;
  bool next;
  Bytes name;
  if (!DecodeArgs(info, "procmapQuery", 0, &fd, &at, &next, &name)) return env.Undefined();
  const uint64_t addr = at.value;
  uapi::procmap_query q;
  memset(&q, 0, sizeof q);
  q.size = sizeof q;
  q.query_addr = addr;
  q.query_flags = next ? uapi::COVERING_OR_NEXT_VMA : 0;
  if (name.length > 0) {
    q.vma_name_addr = reinterpret_cast<uint64_t>(name.data);
    q.vma_name_size = static_cast<uint32_t>(name.length);
  }
  if (ioctl(static_cast<int>(fd), uapi::PROCMAP_QUERY, &q) != 0) {
    if (errno == ENOENT) return env.Null();
    return ThrowErrno(env, errno, "ioctl", "PROCMAP_QUERY, addr=" + Hex(addr));
  }
  Napi::Array out = Napi::Array::New(env, 9);
  out.Set(0u, Napi::BigInt::New(env, q.vma_start));
  out.Set(1u, Napi::BigInt::New(env, q.vma_end));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(q.vma_flags)));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(q.vma_page_size)));
  out.Set(4u, Napi::BigInt::New(env, q.vma_offset));
  out.Set(5u, Napi::Number::New(env, static_cast<double>(q.inode)));
  out.Set(6u, Napi::Number::New(env, q.dev_major));
  out.Set(7u, Napi::Number::New(env, q.dev_minor));
  out.Set(8u, Napi::Number::New(env, q.vma_name_size));
  return out;
}

// memfdSecret(flags) -> fd (memfd_secret(2): pages removed from the kernel's
// direct map; needs secretmem.enable=1 on the kernel command line).
static Napi::Value MemfdSecret(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t flags;
  if (!DecodeArgs(info, "memfdSecret", 0, &flags)) return env.Undefined();
  int fd = static_cast<int>(syscall(__NR_memfd_secret, static_cast<unsigned>(flags)));
  if (fd < 0) return ThrowErrno(env, errno, "memfd_secret", "flags=" + std::to_string(flags));
  return Napi::Number::New(env, fd);
}

static void InitNewMm2(Napi::Env env, Napi::Object exports);  // below

void InitNewMm(Napi::Env env, Napi::Object exports) {
  exports.Set("regionSeal", Napi::Function::New(env, RegionSeal, "regionSeal"));
  exports.Set("msealProbe", Napi::Function::New(env, MsealProbe, "msealProbe"));
  exports.Set("processMadviseOwn", Napi::Function::New(env, ProcessMadviseOwn, "processMadviseOwn"));
  exports.Set("processMadviseProbe", Napi::Function::New(env, ProcessMadviseProbe, "processMadviseProbe"));
  exports.Set("procmapQuery", Napi::Function::New(env, ProcmapQuery, "procmapQuery"));
  exports.Set("memfdSecret", Napi::Function::New(env, MemfdSecret, "memfdSecret"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("MADV_GUARD_INSTALL", MADV_GUARD_INSTALL);
  c.Set("MADV_GUARD_REMOVE", MADV_GUARD_REMOVE);
  c.Set("MAP_DROPPABLE", MAP_DROPPABLE);
  c.Set("PROCMAP_QUERY_VMA_READABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_READABLE));
  c.Set("PROCMAP_QUERY_VMA_WRITABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_WRITABLE));
  c.Set("PROCMAP_QUERY_VMA_EXECUTABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_EXECUTABLE));
  c.Set("PROCMAP_QUERY_VMA_SHARED", static_cast<double>(uapi::PROCMAP_QUERY_VMA_SHARED));
  exports.Set("newmmConstants", c);
  InitNewMm2(env, exports);
}

// --- appended for issue 18 (PR_SET_MEMORY_MERGE) ----------------------------

// memoryMerge(on: boolean | undefined) -> 0/1: prctl(PR_SET_MEMORY_MERGE, on)
// (Linux 6.4, CONFIG_KSM: every present and future mapping of the process
// becomes a KSM candidate) when given, then prctl(PR_GET_MEMORY_MERGE).
static Napi::Value MemoryMerge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsBoolean()) {
    unsigned long on = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
    if (prctl(PR_SET_MEMORY_MERGE, on, 0UL, 0UL, 0UL) != 0)
      return ThrowErrno(env, errno, "prctl", "PR_SET_MEMORY_MERGE, " + std::to_string(on));
  }
  int rc = prctl(PR_GET_MEMORY_MERGE, 0UL, 0UL, 0UL, 0UL);
  if (rc < 0) return ThrowErrno(env, errno, "prctl", "PR_GET_MEMORY_MERGE");
  return Napi::Number::New(env, rc);
}


static void InitNewMm2(Napi::Env env, Napi::Object exports) {
  exports.Set("memoryMerge", Napi::Function::New(env, MemoryMerge, "memoryMerge"));
}

}  // namespace pagewise
