// discard()'s native side: the backing store of any ArrayBuffer,
// whether a pagewise Region holds it, and madvise over whole pages inside it.
// Contract in pagewise.h. Policy (which pages, which VMAs are acceptable,
// Node's Buffer pool) lives in lib/process/discard.ts; native checks only what
// memory safety needs: the range lies inside the ArrayBuffer's own bytes at
// the moment of the call, is page-aligned, and the advice keeps the memory
// mapped read-write (never munmap, never a protection change).
#include "region-internal.h"
#include "uapi.h"

#include <sys/mman.h>
#include <cerrno>
#include <string>

namespace pagewise {

// Where a Region of this environment holds [addr, addr+len): 0 none, 1 one
// that only this thread uses, 2 one shared with other threads (share()/attach(),
// SharedArrayBuffers over it), 3 one unmapped by its Mapping (zero-filled in
// place until its buffers die). Agrees with region.h: the address range is the
// Region's while `held`.
static int RegionState(napi_env env, uint64_t addr, uint64_t len) {
  EnvData* d = GetEnvData(env);
  if (!d) return 0;
  for (Region* r = d->regions; r; r = r->next) {
    const uint64_t s = reinterpret_cast<uint64_t>(r->addr), e = s + r->length;
    if (!r->held || addr >= e || addr + len <= s) continue;
    if (!r->mapped) return 3;
    return SharedElsewhere(r) ? 2 : 1;
  }
  return 0;
}

// arrayBufferInfo(ab) -> [address: bigint, byteLength, regionState] or null
// when `ab` is detached (napi_get_arraybuffer_info; regionState as above).
static Napi::Value ArrayBufferInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) return ThrowInternal(env, "arrayBufferInfo: need an ArrayBuffer");
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, info[0], &detached) != napi_ok) return ThrowInternal(env, "arrayBufferInfo: napi_is_detached_arraybuffer");
  if (detached) return env.Null();
  void* data = nullptr;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, info[0], &data, &len) != napi_ok) return ThrowInternal(env, "arrayBufferInfo: napi_get_arraybuffer_info");
  const uint64_t addr = reinterpret_cast<uint64_t>(data);
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::BigInt::New(env, addr));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(len)));
  out.Set(2u, Napi::Number::New(env, data && len ? RegionState(env, addr, len) : 0));
  return out;
}

// madviseArrayBuffer(ab, offset, length, advice): madvise(data + offset,
// length, advice) over whole pages inside the ArrayBuffer's own bytes, read
// again here (never an address from JS). Only advice that keeps the memory
// mapped read-write: MADV_DONTNEED (private anonymous pages read as zero
// afterwards), MADV_FREE, MADV_COLD, MADV_PAGEOUT, MADV_WILLNEED.
static Napi::Value MadviseArrayBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  int64_t advice;
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) return ThrowInternal(env, "madviseArrayBuffer: need an ArrayBuffer");
  if (!DecodeArgs(info, "madviseArrayBuffer", 1, &off, &len, &advice)) return env.Undefined();
  if (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_COLD && advice != MADV_PAGEOUT && advice != MADV_WILLNEED)
    return ThrowInternal(env, "madviseArrayBuffer: advice " + std::to_string(advice) + " is not allowed over an ArrayBuffer");
  bool detached = false;
  napi_is_detached_arraybuffer(env, info[0], &detached);
  void* data = nullptr;
  size_t size = 0;
  if (detached || napi_get_arraybuffer_info(env, info[0], &data, &size) != napi_ok || data == nullptr)
    return ThrowInternal(env, "madviseArrayBuffer: the ArrayBuffer is detached");
  const uint64_t page = PageSize();
  const uint64_t start = reinterpret_cast<uint64_t>(data) + off;
  if (off > size || len > size - off || start % page != 0 || len % page != 0)
    return ThrowInternal(env, "madviseArrayBuffer: range outside the ArrayBuffer or not whole pages");
  if (len == 0) return env.Undefined();
  if (madvise(reinterpret_cast<void*>(start), len, static_cast<int>(advice)) != 0)
    return ThrowErrno(env, errno, "madvise", "addr=" + Hex(start) + ", length=" + std::to_string(len) + ", advice=" + std::to_string(advice));
  return env.Undefined();
}

void InitRegionDiscard(Napi::Env env, Napi::Object exports) {
  exports.Set("arrayBufferInfo", Napi::Function::New(env, ArrayBufferInfo, "arrayBufferInfo"));
  exports.Set("madviseArrayBuffer", Napi::Function::New(env, MadviseArrayBuffer, "madviseArrayBuffer"));
}

}  // namespace pagewise
