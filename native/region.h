// A Region is one mmap'd range owned by pagewise, shared by the JS handle
// (an External) and every ArrayBuffer created over it.
//
// Lifetime (DESIGN.md, Safety). A pointer into a Region can escape what
// pagewise made: ArrayBuffer.prototype.transfer() moves the backing store into
// a buffer pagewise never saw, and a libuv thread (crypto.randomFill, zlib, fs)
// holds the raw pointer while the view it came from is detached. So each
// BufferRecord lives until BOTH its backing store is freed (BufferFinalize)
// AND the ArrayBuffer object pagewise made is collected (ObjectFinalize: Node
// keeps the object of an in-flight request reachable until it completes).
// munmap() detaches what pagewise made; when records are still alive it does
// not unmap but replaces the range in place with fresh MAP_NORESERVE
// read-write pages (RSS drops at once; a stale pointer reads and writes
// zeros), and the range is unmapped when `refs` (handle + records) reaches
// zero. A Region whose buffer escaped and may outlive the environment (a
// worker that transferred a view out and exits) is never unmapped (`leak`).
#pragma once

#include "args.h"
#include "pagewise.h"
#include <cstddef>
#include <cstdint>

namespace pagewise {

struct EnvData;
struct Region;

// Memory shared by Regions in several environments (worker threads: share()
// and attach()) and by SharedArrayBuffers over it. `refs` counts the Regions
// that hold the range plus live SharedArrayBuffers; the last release unmaps.
// Guarded by a process-wide mutex (backings are touched from any thread).
// The registry entry is the truth a share token is checked against: its id is
// random (a token cannot be guessed or carried from another process), and
// attach() compares every field of the token with it. A holder that lowers
// protection or installs guard pages must be the only holder, and it makes the
// entry unattachable until share() is called again over read-write memory;
// the last mapped holder that gives the memory up closes it (attach() then
// fails instead of mapping zero pages).
struct Backing {
  uint8_t* addr;
  uint64_t length;
  int64_t refs;
  uint64_t id;
  bool leak;
  bool keepData = false;    // with leak: a buffer is known to have moved to another thread
  bool attachable = true;   // read-write throughout and unguarded, as share() last found it
  bool closed = false;      // given up by its last mapped holder (zero-filled): attach() refuses
  uint32_t kind = 0;        // the token's kind bits (file, shared, noReserve, hugePages), set by share()
  uint64_t pageSize = 0;    // the token's page size, set by share()
  uint64_t growLimit = 0;   // the shmem object's size for shared anonymous memory (0: no limit)
};

struct BufferRecord {
  Region* region;
  napi_ref ref;       // weak reference to the ArrayBuffer; null once deleted
  uint64_t offset;
  uint64_t length;
  bool detached;      // pagewise detached it (unmap, protect, detachArrayBuffer)
  bool escaped;       // its memory was found outside the ArrayBuffer pagewise made
  bool unsure;        // escaped only because the object was collected first (its store's release may be queued)
  bool storeAlive;    // the backing store is not freed yet (BufferFinalize pending)
  bool objectAlive;   // the ArrayBuffer object is not collected yet (ObjectFinalize pending)
  Region* pin;        // a range cut off by resize() that this buffer may still reach, or null
  BufferRecord* prev;
  BufferRecord* next;
};

struct Region {
  uint8_t* addr;
  uint64_t length;
  bool mapped;       // the caller's mapping is live (false after munmap())
  bool held;         // the address range is still ours (mapped, or zero-filled until released)
  bool leak;         // never unmap: a buffer escaped and may outlive this environment
  bool keepData;     // with leak: a buffer is known to have moved to another thread (keep its bytes)
  bool sealed;       // mseal()ed: the kernel refuses munmap, mprotect, mremap for the life of the process
  Backing* backing;  // non-null once shared with other threads (share()/attach())
  int64_t refs;
  int64_t reported;  // bytes reported to V8 with napi_adjust_external_memory
  EnvData* env;      // null once the environment is torn down
  BufferRecord* buffers;
  Region* prev;
  Region* next;
  // Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS): its shmem object keeps
  // the size it was mapped with, so a page past it is a SIGBUS; 0 otherwise.
  uint64_t growLimit = 0;
  // Guard pages were asked for in it through pagewise (madvise with
  // MADV_GUARD_INSTALL, the only way pagewise installs them): sticky, so
  // residency() scans for guard pages only where some can be.
  bool guarded = false;
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
// Whether a buffer over [offset, offset+length) escaped (its memory is held by
// an ArrayBuffer pagewise did not make: transfer()), so write access must not
// be removed. Checks and records escapes of buffers not yet detached.
bool RangeEscaped(napi_env env, Region* r, uint64_t offset, uint64_t length);
// Whether every escape RangeEscaped found over the range is only a collected
// object whose store's release may still be queued (clears on a turn of the loop).
bool RangeEscapeUnsure(Region* r, uint64_t offset, uint64_t length);
// Whether anything outside pagewise may still hold a pointer into the range
// (a record whose backing store or ArrayBuffer object is still alive).
bool RangeBusy(Region* r, uint64_t offset, uint64_t length);
// Replaces [offset, offset+length) in place with fresh MAP_NORESERVE
// read-write zero pages (mmap MAP_FIXED). Returns errno or 0.
int ZeroInPlace(Region* r, uint64_t offset, uint64_t length);
// Headroom under vm.max_map_count: true when `adding` more mappings leave the
// documented margin for V8 and libc; otherwise throws ENOMEM (syscall set,
// hint naming vm.max_map_count) and returns false. Cheap: an exact count of
// /proc/self/maps is taken only after half the last known headroom is used.
bool MapHeadroom(napi_env env, int64_t adding, const char* syscall);
// Whether other threads (or SharedArrayBuffers) still use the region's memory.
bool SharedElsewhere(Region* r);
// Before an operation that lowers protection or installs guard pages over a
// region's memory: false when other threads (or SharedArrayBuffers) still use
// it (refuse); otherwise true, and a shared backing stops being attachable
// (atomically with the check) until share() finds it read-write again.
bool LowerAllowed(Region* r);
// Before giving a region's memory up (munmap): true when no other holder
// uses it, and then a shared backing is closed (attach() refuses from now
// on, atomically with the check); false when others still hold it.
bool GiveUpAllowed(Region* r);
// Wraps an existing mapping (already mmap'd by the caller) as a Region handle.
Napi::Value NewRegionHandle(Napi::Env env, void* addr, uint64_t length, int64_t report);

}  // namespace pagewise
