// pagewise native layer: a thin Linux memory syscall layer for Node-API.
//
// THE CONTRACT (stated once, holds for every function in native/):
//  * One exported function per system call, named after it, positional
//    arguments, no defaults, no policy. Validation with readable messages and
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

// errors.cc
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what);
Napi::Value ThrowInternal(Napi::Env env, const std::string& message);
const char* ErrnoName(int err);

// Argument helpers (no policy: lib/ has validated; these only decode).
bool GetU64(const Napi::CallbackInfo& info, size_t i, uint64_t* out);
bool GetI64(const Napi::CallbackInfo& info, size_t i, int64_t* out);
bool GetBigAddr(const Napi::CallbackInfo& info, size_t i, uint64_t* out);
std::string Hex(uint64_t v);

// One Init per concern; addon.cc calls them all.
void InitRegion(Napi::Env env, Napi::Object exports);
void InitMman(Napi::Env env, Napi::Object exports);
void InitBrk(Napi::Env env, Napi::Object exports);
void InitResources(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);
void InitMeasure(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
void InitCBench(Napi::Env env, Napi::Object exports);

}  // namespace pagewise
