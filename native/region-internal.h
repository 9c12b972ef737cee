// Private to the files that make up Regions (region.cc, region-calls.cc,
// region-share.cc, region-resize.cc): the per-environment list and the
// helpers they share. The rest of native/ uses region.h.
#pragma once

#include "region.h"

#include <functional>

namespace pagewise {

// Per-environment (main thread or worker) list of live regions, so that a
// terminating environment unmaps what it owns and drops its references while
// napi_env is still valid.
struct EnvData {
  napi_env env;
  Region* regions = nullptr;
  bool tearingDown = false;
  bool sampled = false;     // regionsSampleEscapes() ran at the environment's 'exit'
  napi_ref noop = nullptr;  // a function: calling it tells whether JS can still run here
};

// region.cc
// This environment's EnvData (napi instance data), or null (none installed, or torn down).
EnvData* GetEnvData(napi_env env);
// Whether MADV_DONTNEED empties private anonymous pages here (probed once).
bool DontneedZeroes();
// Gives the address range back: munmap, or one reference of a shared backing.
void ReleaseMemory(Region* r);
// Whether the memory of `b` may be held by an ArrayBuffer pagewise did not
// make (recorded in `b`: GC cannot erase it). Contract in region.cc.
bool CheckEscape(napi_env env, BufferRecord* b);
// Publishes the range `r` holds to regionsHeld() (any thread), or withdraws it
// when `r` holds none: after every change of held, addr or length.
void SyncHeld(const Region* r);
// A region handle over `addr`; with `backing`, one reference of it already taken.
Napi::Value NewRegionHandleOver(Napi::Env env, void* addr, uint64_t length, int64_t report, Backing* backing, uint64_t growLimit = 0);

// region-share.cc
// Drops one reference of a shared backing; the last unmaps (unless it leaks).
void BackingUnref(Backing* b);
// Runs `fn` while `r` is the only holder of its memory, under the registry's
// lock (no attach() meanwhile), then records the region's address and length
// in its backing; false (fn not run) when another holder exists.
bool WithSoleHold(Region* r, const std::function<void()>& fn);

}  // namespace pagewise
