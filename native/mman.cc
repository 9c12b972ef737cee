// mprotect, madvise, mincore, mlock/mlock2/munlock, msync, prctl(PR_SET_VMA_ANON_NAME)
// over a Region's sub-range. Contract in pagewise.h.
#include "args.h"
#include "region.h"
#include "uapi.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace pagewise {

static std::string RangeText(Region* r, uint64_t off, uint64_t len) {
  return "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr + off)) + ", length=" + std::to_string(len);
}

// The one check before anything that lowers protection over a region's
// memory (mprotect without PROT_WRITE, guard pages): refused (ERR_INVALID_STATE)
// where an ArrayBuffer over the range escaped pagewise, or while other threads
// share the memory; otherwise a shared backing stops being attachable.
static bool LowerAllowedHere(napi_env env, Region* r, uint64_t off, uint64_t len, const char* what) {
  if (r->buffers && RangeEscaped(env, r, off, len)) {
    if (RangeEscapeUnsure(r, off, len)) {
      ThrowState(env, std::string("cannot ") + what +
                          " this range yet: a view of it was garbage-collected and the release of its memory is still "
                          "queued, so pagewise cannot tell it from one whose memory was moved by transfer() or "
                          "postMessage; the release runs on a later turn of the event loop (retry after "
                          "`await new Promise(setImmediate)`), or keep the view alive until this call");
      return false;
    }
    ThrowState(env, std::string("cannot ") + what +
                        " this range: an ArrayBuffer over it escaped pagewise (ArrayBuffer.prototype.transfer() or "
                        "postMessage moved its memory into a buffer pagewise cannot detach, and it may still be alive), "
                        "and a JS access through it would kill the process");
    return false;
  }
  if (!LowerAllowed(r)) {
    ThrowState(env, std::string("cannot ") + what +
                        " memory shared with other threads (share()/attach() or a SharedArrayBuffer): their views "
                        "would fault");
    return false;
  }
  return true;
}

// mprotect(region, offset, length, prot). Detaches ArrayBuffers over the range
// when the new protection lacks PROT_WRITE (a JS write would be a SIGSEGV).
// A raw Node-API callback (hot path, see pagewise.h).
static napi_value Mprotect(napi_env env, napi_callback_info cb) {
  napi_value argv[4];
  size_t argc = RawArgs(env, cb, argv);
  uint64_t off, len;
  int64_t prot;
  Region* r = RegionRangeArgs(env, argv, argc, 0, &off, &len);
  if (!r || !DecodeRawArgs(env, argv, argc, "mprotect", 3, &prot)) return nullptr;
  if (!(prot & PROT_WRITE) && len > 0 && !LowerAllowedHere(env, r, off, len, "take write access away from")) return nullptr;
  if (!(prot & PROT_WRITE) && r->buffers) DetachRange(env, r, off, len);
  // A protection change can split a mapping in three.
  if (!MapHeadroom(env, 2, "mprotect")) return nullptr;
  if (mprotect(r->addr + off, len, static_cast<int>(prot)) != 0)
    ThrowErrno(Napi::Env(env), errno, "mprotect", RangeText(r, off, len) + ", prot=" + std::to_string(prot));
  return nullptr;
}

// madvise(region, offset, length, advice). A raw Node-API callback (hot path).
static napi_value Madvise(napi_env env, napi_callback_info cb) {
  napi_value argv[4];
  size_t argc = RawArgs(env, cb, argv);
  uint64_t off, len;
  int64_t advice;
  Region* r = RegionRangeArgs(env, argv, argc, 0, &off, &len);
  if (!r || !DecodeRawArgs(env, argv, argc, "madvise", 3, &advice)) return nullptr;
  if (advice == MADV_GUARD_INSTALL && len > 0) {
    if (!LowerAllowedHere(env, r, off, len, "install guard pages in")) return nullptr;
    r->guarded = true;  // before the call: a partial install that fails still leaves markers
  }
  if (madvise(r->addr + off, len, static_cast<int>(advice)) != 0)
    ThrowErrno(Napi::Env(env), errno, "madvise", RangeText(r, off, len) + ", advice=" + std::to_string(advice));
  return nullptr;
}

// madviseProbe(advice) -> errno of madvise(NULL, 0, advice): 0 when the
// kernel knows the advice, EINVAL when it does not.
static Napi::Value MadviseProbe(const Napi::CallbackInfo& info) {
  int64_t advice;
  if (!DecodeArgs(info, "madviseProbe", 0, &advice)) return info.Env().Undefined();
  int rc = madvise(nullptr, 0, static_cast<int>(advice));
  return Napi::Number::New(info.Env(), rc == 0 ? 0 : errno);
}

// Counts bytes with bit 0 set, eight at a time: (w & 0x01..01) * 0x01..01
// sums the eight low bits into the top byte (at most 8, no carry).
static uint64_t CountResident(const unsigned char* v, uint64_t n) {
  uint64_t count = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, v + i, 8);
    count += ((w & 0x0101010101010101ULL) * 0x0101010101010101ULL) >> 56;
  }
  for (; i < n; i++) count += v[i] & 1;
  return count;
}

// mincore(region, offset, length, vec: Uint8Array | null) -> resident pages.
// When vec is given (one byte per page) it receives the kernel's vector.
//
// The kernel writes one byte per page of the range; an emulator whose guest
// pages are larger than the host's (qemu-user with QEMU_PAGESIZE) writes one
// per host page instead, several times more. So the kernel always writes into
// a per-thread scratch vector sized for the smallest page any Linux port uses
// (kMinPage, 4 KiB), and what is counted or copied out is the first byte per
// page of this size: wrong answers under such an emulator, never a write past
// a buffer. Ranges go in steps of 2^20 pages (the scratch stays small); below
// that, one call over the whole range, the same work as a C caller.
static constexpr uint64_t kMinPage = uint64_t{1} << 12;

static Napi::Value Mincore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  Bytes vec;
  if (!DecodeArgs(info, "mincore", 3, &vec)) return env.Undefined();
  const uint64_t page = PageSize();
  const uint64_t pages = (len + page - 1) / page;
  unsigned char* out = vec.data;
  if (out && vec.length < pages) return ThrowInternal(env, "mincore: vector too small");
  static thread_local std::vector<unsigned char> scratch;
  const uint64_t step = pages < (1u << 20) ? pages : (1u << 20);
  const uint64_t room = step * (page > kMinPage ? page / kMinPage : 1);
  if (scratch.size() < room) scratch.resize(room ? room : 1);
  uint64_t count = 0;
  for (uint64_t done = 0; done < pages; done += step) {
    const uint64_t n = pages - done < step ? pages - done : step;
    const uint64_t bytes = n * page < len - done * page ? n * page : len - done * page;
    if (mincore(r->addr + off + done * page, bytes, scratch.data()) != 0)
      return ThrowErrno(env, errno, "mincore", RangeText(r, off, len));
    count += CountResident(scratch.data(), n);
    if (out) memcpy(out + done, scratch.data(), n);
  }
  return Napi::Number::New(env, static_cast<double>(count));
}

// mlock(region, offset, length, onFault: 0|1): mlock2(MLOCK_ONFAULT) when asked.
static Napi::Value Mlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  int64_t onFault;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (!DecodeArgs(info, "mlock", 3, &onFault)) return env.Undefined();
  if (onFault) {
    if (syscall(SYS_mlock2, r->addr + off, len, MLOCK_ONFAULT) != 0)
      return ThrowErrno(env, errno, "mlock2", RangeText(r, off, len) + ", MLOCK_ONFAULT");
  } else if (mlock(r->addr + off, len) != 0) {
    return ThrowErrno(env, errno, "mlock", RangeText(r, off, len));
  }
  return env.Undefined();
}

// munlock(region, offset, length)
static Napi::Value Munlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (munlock(r->addr + off, len) != 0) return ThrowErrno(env, errno, "munlock", RangeText(r, off, len));
  return env.Undefined();
}

// msync(region, offset, length, flags)
static Napi::Value Msync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  int64_t flags;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (!DecodeArgs(info, "msync", 3, &flags)) return env.Undefined();
  if (msync(r->addr + off, len, static_cast<int>(flags)) != 0)
    return ThrowErrno(env, errno, "msync", RangeText(r, off, len) + ", flags=" + std::to_string(flags));
  return env.Undefined();
}

// prctlSetVmaAnonName(region, offset, length, name | null)
static Napi::Value PrctlSetVmaAnonName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  std::optional<std::string> name;
  if (!DecodeArgs(info, "prctlSetVmaAnonName", 3, &name)) return env.Undefined();
  if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(r->addr + off),
            static_cast<unsigned long>(len), name ? reinterpret_cast<unsigned long>(name->c_str()) : 0UL) != 0)
    return ThrowErrno(env, errno, "prctl", "PR_SET_VMA_ANON_NAME, " + RangeText(r, off, len) + ", name=" + name.value_or(""));
  return env.Undefined();
}

void InitMman(Napi::Env env, Napi::Object exports) {
  exports.Set("mprotect", RawFunction(env, "mprotect", Mprotect));
  exports.Set("madvise", RawFunction(env, "madvise", Madvise));
  exports.Set("madviseProbe", Napi::Function::New(env, MadviseProbe, "madviseProbe"));
  exports.Set("mincore", Napi::Function::New(env, Mincore, "mincore"));
  exports.Set("mlock", Napi::Function::New(env, Mlock, "mlock"));
  exports.Set("munlock", Napi::Function::New(env, Munlock, "munlock"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("prctlSetVmaAnonName", Napi::Function::New(env, PrctlSetVmaAnonName, "prctlSetVmaAnonName"));
}

}  // namespace pagewise
