// pagewise native layer: a thin Linux memory syscall layer for Node-API.
//
// TWO BINARIES (binding.gyp):
//  * native/*.cc -> pagewise.node, the core every user loads: the system-call
//    layer below and nothing else. Loaded only by lib/native.ts.
//  * native/lab/ -> pagewise_lab.node (the C benchmark loops, the fork
//    probe; see lab/lab.h) and the pagewise-probe executable: loaded
//    or run only by lab code (lib/native-lab.ts for lib/bench and
//    lib/experiments), so a missing lab binary fails those alone. The lab
//    shares errors.cc and args.h with the core, never its Regions: it takes
//    addresses. test/platform-binary.test.ts checks with `nm -D` that no
//    lab symbol is in the core.
// Repeated preambles (argument decoding, out-parameter arrays, the page
// size) have one helper each in args.h.
//
// THE CONTRACT (stated once, holds for every function in native/):
//  * One exported function per system call, named after it (mmap, mseal,
//    prctlSetThpDisable for prctl(PR_SET_THP_DISABLE), ...; an *At variant
//    takes an address instead of a Region, a *Probe variant returns the
//    errno instead of throwing). Beside them: the Region's own lifecycle
//    (region*: regionBuffer, regionShare, regionResize, ...; region.h) and
//    the measurement readers (measure.cc). Positional arguments decoded in
//    one style (args.h), no defaults (munmap's privateAnonRW alone may be
//    left out, as false), no policy. Validation with readable messages and
//    every default live in lib/; native checks only what memory safety needs
//    (a range lies inside its Region and the Region is still mapped) and
//    throws a plain Error with code 'ERR_PAGEWISE_INTERNAL' when lib/ let
//    something through.
//  * Numbers: lengths and offsets arrive as JS numbers (integers <= 2^53,
//    validated by lib/); addresses leave and enter as BigInt.
//  * A failed system call throws an Error built by ThrowErrno (errors.cc):
//    err.code ('ENOMEM'), err.errno (negative, as Node reports it),
//    err.syscall ('mmap'), and a message naming what was asked plus a hint
//    where one helps (vm.max_map_count, ulimit -l, overcommit_memory).
//    Every other error native/ throws is built in errors.cc too.
//  * Kernel constants and structures newer than the build machine's headers
//    come from uapi.h, the only place with fallbacks.
//  * Memory reaches JS only through external ArrayBuffers made by
//    RegionBuffer() over a Region (region.h). Before a range stops being
//    accessible, every ArrayBuffer over it is detached. Exactly one party
//    unmaps a Region: explicit munmap() or the last finalizer.
//  * Page size comes from sysconf(_SC_PAGESIZE); alignment is the caller's
//    duty and a misaligned range fails with EINVAL from the kernel.
#pragma once

#include <napi.h>
#include <cstdint>
#include <string>

namespace pagewise {

// errors.cc: every error native/ throws is built here.
// A failed system call: code, errno, syscall; message "<CODE>: <syscall>(<what>)
// failed: <strerror>" plus a hint where one helps.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what);
// A system call pagewise refuses to make (same shape as ThrowErrno's, the
// message says why): "<CODE>: <syscall> refused: <why>".
Napi::Value ThrowRefused(Napi::Env env, int err, const char* syscall, const std::string& why);
// lib/ let something through: Error, code ERR_PAGEWISE_INTERNAL.
// ERR_PAGEWISE_INTERNAL: what lib/ should have refused. `reason`, when given,
// becomes the error's `reason`: "not-a-region", "unmapped" or "range".
Napi::Value ThrowInternal(Napi::Env env, const std::string& message, const char* reason = nullptr);
// An operation the state of the memory forbids: TypeError, code
// ERR_INVALID_STATE (as lib/validate.ts's invalidState()).
napi_value ThrowState(napi_env env, const std::string& message);
// Any other coded error (Node's own codes where one fits).
enum class ErrorType { Error, TypeError, RangeError };
Napi::Value ThrowCoded(Napi::Env env, ErrorType type, const char* code, const std::string& message);
const char* ErrnoName(int err);

// Hot paths (madvise, mprotect: one sub-microsecond system call each) are
// plain Node-API callbacks instead of node-addon-api ones: no CallbackInfo,
// no wrapper objects (BENCHMARKS.md has the cost). RawFunction makes the JS
// function; RawArgs reads up to N arguments (missing ones read as undefined)
// and returns how many were passed; DecodeRawArgs (args.h) decodes them.
Napi::Function RawFunction(Napi::Env env, const char* name, napi_callback cb);
template <size_t N>
inline size_t RawArgs(napi_env env, napi_callback_info cb, napi_value (&argv)[N]) {
  size_t argc = N;
  if (napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr) != napi_ok) return 0;
  return argc;
}
std::string Hex(uint64_t v);

// One Init per concern; addon.cc calls them all.
void InitRegion(Napi::Env env, Napi::Object exports);
void InitRegionCalls(Napi::Env env, Napi::Object exports);
void InitRegionShare(Napi::Env env, Napi::Object exports);
void InitRegionResize(Napi::Env env, Napi::Object exports);
void InitMapLimit(Napi::Env env, Napi::Object exports);
void InitMman(Napi::Env env, Napi::Object exports);
void InitBrk(Napi::Env env, Napi::Object exports);
void InitResources(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);
void InitMeasure(Napi::Env env, Napi::Object exports);
void InitShared(Napi::Env env, Napi::Object exports);
void InitRegionDiscard(Napi::Env env, Napi::Object exports);
void InitGiveBack(Napi::Env env, Napi::Object exports);
void InitProcessMadvise(Napi::Env env, Napi::Object exports);
void InitPagemapScan(Napi::Env env, Napi::Object exports);
void InitProcmapQuery(Napi::Env env, Napi::Object exports);
void InitPrctl(Napi::Env env, Napi::Object exports);
void InitSmapsScan(Napi::Env env, Napi::Object exports);

}  // namespace pagewise
