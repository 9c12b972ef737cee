// A Region is one mmap'd range owned by pagewise, shared by the JS handle
// (an External) and every ArrayBuffer created over it.
//
// Lifetime: `refs` counts the handle plus each ArrayBuffer not yet
// finalized. The memory is unmapped exactly once: by munmap() (which first
// detaches every ArrayBuffer over the region) or, if that never happened, when
// the last reference goes away (GC or environment teardown). Detaching an
// ArrayBuffer does not run its finalizer (that happens later, at GC), so the
// `mapped` flag decides who unmaps, whatever the order.
#pragma once

#include "pagewise.h"
#include <cstddef>
#include <cstdint>

namespace pagewise {

struct EnvData;
struct Region;

struct BufferRecord {
  Region* region;
  napi_ref ref;       // weak reference to the ArrayBuffer; null once deleted
  uint64_t offset;
  uint64_t length;
  bool detached;
  BufferRecord* prev;
  BufferRecord* next;
};

struct Region {
  uint8_t* addr;
  uint64_t length;
  bool mapped;
  int64_t refs;
  int64_t reported;  // bytes reported to V8 with napi_adjust_external_memory
  EnvData* env;      // null once the environment is torn down
  BufferRecord* buffers;
  Region* prev;
  Region* next;
};

// Returns the Region behind an External created by this addon, or throws
// and returns nullptr. `needMapped` also refuses an unmapped region.
Region* UnwrapRegion(const Napi::CallbackInfo& info, size_t i, bool needMapped);
// The same for one value, and for (region, offset, length) at argv[i..i+2]
// of a raw Node-API callback (see RawArgs in pagewise.h).
Region* UnwrapRegionValue(napi_env env, napi_value v, bool needMapped);
Region* RegionRangeArgs(napi_env env, const napi_value* argv, size_t argc, size_t i, uint64_t* offset, uint64_t* length);
// Checks [offset, offset+length) lies inside the region (length may be 0).
bool RangeInside(Region* r, uint64_t offset, uint64_t length);
// Reads (region, offset, length) from arguments i, i+1, i+2 with the checks
// above; throws and returns nullptr on failure.
Region* RegionRange(const Napi::CallbackInfo& info, size_t i, uint64_t* offset, uint64_t* length);
// Detaches every live ArrayBuffer overlapping [offset, offset+length).
size_t DetachRange(napi_env env, Region* r, uint64_t offset, uint64_t length);
// Wraps an existing mapping (already mmap'd by the caller) as a Region handle.
Napi::Value NewRegionHandle(Napi::Env env, void* addr, uint64_t length, int64_t report);

}  // namespace pagewise
