// The calls over Regions: mmap and munmap, mseal, mmap(MAP_FIXED) over a
// sub-range, detaching buffers, the address, the bytes reported to V8, and
// whether a range escaped. Lifetime in region.cc; contract in region.h.
#include "region-internal.h"
#include "uapi.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <string>

namespace pagewise {

static int ProtFromArgs(int64_t prot) { return static_cast<int>(prot); }

// mmap(length, prot, flags, fd, offset, hint: bigint | 0n, report) -> Region
static Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset;
  Address at;
  int64_t prot, flags, fd, report;
  if (!DecodeArgs(info, "mmap", 0, &length, &prot, &flags, &fd, &offset, &at, &report)) return env.Undefined();
  const uint64_t hint = at.value;
  void* want = reinterpret_cast<void*>(hint);
  if (!MapHeadroom(env, 1, "mmap")) return env.Undefined();
  void* p = mmap(want, length, ProtFromArgs(prot), static_cast<int>(flags), static_cast<int>(fd),
                 static_cast<off_t>(offset));
  // The message is built only on failure (strings cost more than the call).
  auto what = [&]() {
    return "length=" + std::to_string(length) + ", prot=" + std::to_string(prot) +
           ", flags=" + Hex(static_cast<uint64_t>(flags)) +
           (fd >= 0 ? ", fd=" + std::to_string(fd) + ", offset=" + std::to_string(offset) : std::string()) +
           (hint ? ", addr=" + Hex(hint) : std::string());
  };
  if (p == MAP_FAILED) {
    int err = errno;
    std::string w = what();
    if (err == ENOMEM && (flags & MAP_HUGETLB))
      w += "; MAP_HUGETLB: no free huge pages of that size in the pool: reserve some with"
           " sysctl vm.nr_hugepages=N (or /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages)";
    return ThrowErrno(env, err, "mmap", w);
  }
  if (p == nullptr) {
    // Page 0 (root may map it): no ArrayBuffer can point there.
    munmap(p, length);
    return ThrowErrno(env, EINVAL, "mmap", what() + "; the kernel placed it at address 0, which pagewise refuses");
  }
#ifdef MAP_FIXED_NOREPLACE
  // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the address as a
  // hint: check what we got.
  if ((flags & MAP_FIXED_NOREPLACE) && p != want) {
    munmap(p, length);
    return ThrowErrno(env, EEXIST, "mmap", what());
  }
#endif
  // Shared anonymous memory is a shmem object of this size: it cannot grow.
  const int type = static_cast<int>(flags) & 0x0f;
  const bool sharedAnon = (flags & MAP_ANONYMOUS) && (type == MAP_SHARED || type == MAP_SHARED_VALIDATE);
  return NewRegionHandleOver(env, p, length, report, nullptr, sharedAnon ? length : 0);
}

// munmap(region, privateAnonRW?) -> number of ArrayBuffers detached. Idempotent.
// privateAnonRW (lib/ knows it; omitted where it does not matter, as false):
// the memory is private anonymous and read-write throughout.
static Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return env.Undefined();
  bool privateAnonRW = false;
  if (info.Length() > 1 && !DecodeArgs(info, "munmap", 1, &privateAnonRW)) return env.Undefined();
  if (!r->mapped) return Napi::Number::New(env, 0);
  if (r->sealed)
    return ThrowErrno(env, EPERM, "munmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", length=" + std::to_string(r->length) +
                          ": the mapping is sealed (mseal) for the life of the process");
  size_t n = DetachRange(env, r, 0, r->length);
  if (!GiveUpAllowed(r)) {
    // Other threads use this memory: it stays as it is for them; this
    // thread's hold is given back when its last buffer is gone (now, if none).
    if (!RangeBusy(r, 0, r->length)) ReleaseMemory(r);
  } else if (RangeBusy(r, 0, r->length)) {
    // Something may still hold a pointer in (an escaped or in-flight buffer):
    // fresh zero pages in place now, the range itself at the last release.
    // For private anonymous memory that is read-write throughout (lib/ says
    // so: argument 1), MADV_DONTNEED gives the same zero pages in the same
    // mapping, cheaper than a new one.
    bool byAdvice = privateAnonRW && DontneedZeroes();
    int err = byAdvice ? (madvise(r->addr, r->length, MADV_DONTNEED) == 0 ? 0 : errno) : EINVAL;
    if (err != 0) err = ZeroInPlace(r, 0, r->length);
    if (err != 0)
      return ThrowErrno(env, err, "mmap", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", length=" +
                                              std::to_string(r->length) +
                                              ", MAP_FIXED (zero-filling an unmapped range whose buffers are still alive)");
  } else if (r->backing) {
    ReleaseMemory(r);
  } else {
    if (munmap(r->addr, r->length) != 0)
      return ThrowErrno(env, errno, "munmap", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) +
                                                  ", length=" + std::to_string(r->length));
    r->held = false;
    SyncHeld(r);
  }
  r->mapped = false;
  if (r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, -r->reported, &ignored);
    r->reported = 0;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// regionDetach(region, offset, length) -> number of ArrayBuffers detached.
static Napi::Value RegionDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = UnwrapRegion(info, 0, false);
  if (!r || !DecodeArgs(info, "regionDetach", 1, &off, &len)) return env.Undefined();
  if (!RangeInside(r, off, len)) return ThrowInternal(env, "range outside the region", "range");
  return Napi::Number::New(env, static_cast<double>(DetachRange(env, r, off, len)));
}

// detachArrayBuffer(ab): detaches one ArrayBuffer made by regionBuffer.
static Napi::Value DetachOne(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool detachable = info.Length() > 0 && info[0].IsArrayBuffer();
  if (!detachable) return ThrowInternal(env, "detachArrayBuffer: not an ArrayBuffer");
  napi_value ab = info[0];
  void* data = nullptr;
  size_t len = 0;
  napi_get_arraybuffer_info(env, ab, &data, &len);
  // Find its record first: a buffer already detached by someone else
  // (transfer()) must stay known as escaped, and is checked before pagewise
  // detaches it (after that it would look detached by pagewise). Then record
  // that pagewise detached it.
  BufferRecord* rec = nullptr;
  EnvData* d = GetEnvData(env);
  uint8_t* p = static_cast<uint8_t*>(data);
  // An ArrayBuffer detached already (data null) is found by identity alone.
  for (Region* r = d ? d->regions : nullptr; r && !rec; r = r->next) {
    if (p && (p < r->addr || p >= r->addr + r->length)) continue;
    uint64_t off = p ? static_cast<uint64_t>(p - r->addr) : 0;
    for (BufferRecord* b = r->buffers; b; b = b->next) {
      if (b->detached || !b->ref || (p && (b->offset != off || b->length != len))) continue;
      napi_value v = nullptr;
      bool same = false;
      napi_get_reference_value(env, b->ref, &v);
      if (v) napi_strict_equals(env, v, ab, &same);
      if (same) {
        rec = b;
        break;
      }
    }
  }
  if (rec) CheckEscape(env, rec);
  napi_detach_arraybuffer(env, ab);
  if (rec) rec->detached = true;
  return env.Undefined();
}

// regionAddress(region) -> bigint
static Napi::Value RegionAddress(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return info.Env().Undefined();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(r->addr)));
}

// regionGuarded(region) -> whether guard pages were ever installed in it
// through pagewise (Region::guarded).
static Napi::Value RegionGuarded(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), r->guarded);
}

// regionRemap(region, offset, length, prot, flags): mmap(MAP_FIXED) over a
// sub-range of a region pagewise owns, e.g. to decommit with PROT_NONE. The
// caller's ArrayBuffers over the range are detached first.
static Napi::Value RegionRemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  int64_t prot, flags;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (!DecodeArgs(info, "regionRemap", 3, &prot, &flags)) return env.Undefined();
  DetachRange(env, r, off, len);
  // Memory a live or escaped buffer may still point to keeps read-write
  // (zero) pages instead of the protection asked for. Returns whether the
  // protection asked for is in place.
  bool keepWritable = !(prot & PROT_WRITE) && RangeBusy(r, off, len);
  if (!MapHeadroom(env, 2, "mmap")) return env.Undefined();
  void* want = r->addr + off;
  void* p = mmap(want, len, keepWritable ? PROT_READ | PROT_WRITE : static_cast<int>(prot),
                 static_cast<int>(flags) | (keepWritable ? MAP_NORESERVE : 0) | MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(want)) + ", length=" +
                          std::to_string(len) + ", prot=" + std::to_string(prot) + ", MAP_FIXED");
  return Napi::Boolean::New(env, !keepWritable);
}

// regionReport(region, bytes): sets how many bytes of the region are reported
// to V8 as external memory (napi_adjust_external_memory by the difference),
// e.g. the committed part of an arena. The last reference's release (or
// munmap) takes the report back.
static Napi::Value RegionReport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  uint64_t bytes;
  if (!DecodeArgs(info, "regionReport", 1, &bytes)) return env.Undefined();
  if (static_cast<int64_t>(bytes) != r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, static_cast<int64_t>(bytes) - r->reported, &ignored);
    r->reported = static_cast<int64_t>(bytes);
  }
  return env.Undefined();
}

// regionEscaped(region, offset, length) -> 0, 1 or 2: whether a buffer over the
// range escaped (transfer()): write access must not be taken away. 2 when the
// only escapes are views collected while their store's release is queued.
static Napi::Value RegionEscaped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (!RangeEscaped(env, r, off, len)) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, RangeEscapeUnsure(r, off, len) ? 2 : 1);
}

// mseal(region): mseal(2) over the whole region (Linux 6.10). Afterwards the
// kernel refuses munmap, mprotect, mremap and destructive madvise on it for
// the life of the process, so pagewise never tries to unmap it again.
static Napi::Value Mseal(const Napi::CallbackInfo& info) {
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

// msealProbe() -> 0 or errno: mseal of a zero-length range, which the kernel
// accepts where it has mseal (a sealed page would stay for the life of the
// process).
static Napi::Value MsealProbe(const Napi::CallbackInfo& info) {
  long rc = syscall(__NR_mseal, nullptr, 0UL, 0UL);
  return Napi::Number::New(info.Env(), rc == 0 ? 0 : errno);
}

// unsafeMmapFixed(addr, length, prot, flags, fd, offset) -> Region. MAP_FIXED
// at a caller's address replaces whatever was there (heap, code, V8's own
// memory): only for the unsafe export.
static Napi::Value UnsafeMmapFixed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address at;
  uint64_t length, offset;
  int64_t prot, flags, fd;
  if (!DecodeArgs(info, "unsafeMmapFixed", 0, &at, &length, &prot, &flags, &fd, &offset)) return env.Undefined();
  const uint64_t addr = at.value;
  if (!MapHeadroom(env, 2, "mmap")) return env.Undefined();
  void* p = mmap(reinterpret_cast<void*>(addr), length, static_cast<int>(prot),
                 static_cast<int>(flags) | MAP_FIXED, static_cast<int>(fd), static_cast<off_t>(offset));
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(addr) + ", length=" + std::to_string(length) + ", MAP_FIXED");
  return NewRegionHandle(env, p, length, 0);
}

void InitRegionCalls(Napi::Env env, Napi::Object exports) {
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("regionDetach", Napi::Function::New(env, RegionDetach, "regionDetach"));
  exports.Set("detachArrayBuffer", Napi::Function::New(env, DetachOne, "detachArrayBuffer"));
  exports.Set("regionAddress", Napi::Function::New(env, RegionAddress, "regionAddress"));
  exports.Set("regionGuarded", Napi::Function::New(env, RegionGuarded, "regionGuarded"));
  exports.Set("regionRemap", Napi::Function::New(env, RegionRemap, "regionRemap"));
  exports.Set("regionReport", Napi::Function::New(env, RegionReport, "regionReport"));
  exports.Set("unsafeMmapFixed", Napi::Function::New(env, UnsafeMmapFixed, "unsafeMmapFixed"));
  exports.Set("regionEscaped", Napi::Function::New(env, RegionEscaped, "regionEscaped"));
  exports.Set("mseal", Napi::Function::New(env, Mseal, "mseal"));
  exports.Set("msealProbe", Napi::Function::New(env, MsealProbe, "msealProbe"));
}

}  // namespace pagewise
