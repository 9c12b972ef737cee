// pagewise lab addon (pagewise_lab.node): the C benchmark loops (cbench.cc)
// and the experiment probes (fork_probe.cc), built apart from the core addon
// so that the binary every user loads holds the system-call layer only.
// Loaded by lib/native-lab.ts, and only by lab code (lib/bench,
// lib/experiments).
//
// Contract: pagewise.h's (positional arguments, numbers, errors), except
// that memory is named by address, not by Region: this is a separate module
// and cannot see the core's Regions. A range is (address: BigInt, length:
// Number); lib/native-lab.ts takes it from a live Mapping after checking it
// lies inside, and detaches the Mapping's ArrayBuffers where a call takes
// write access away or replaces the pages.
#pragma once

#include "../args.h"
#include "../pagewise.h"

namespace pagewise {
namespace lab {

// Reads (address: BigInt, length: Number) at info[i], info[i + 1]; on failure
// throws ERR_PAGEWISE_INTERNAL "<name>: bad range" and returns false.
inline bool LabRange(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** addr, uint64_t* length) {
  Address a;
  if (!DecodeArgs(info, name, i, &a, length)) return false;
  *addr = reinterpret_cast<uint8_t*>(a.value);
  return true;
}

// Not static, so that `nm -D` shows what the lab holds (and the core must not:
// test/platform-binary.test.ts).
Napi::Value CowProbe(const Napi::CallbackInfo& info);
Napi::Value UnmapRemap(const Napi::CallbackInfo& info);
void InitCBench(Napi::Env env, Napi::Object exports);
void InitForkProbe(Napi::Env env, Napi::Object exports);

}  // namespace lab
}  // namespace pagewise
