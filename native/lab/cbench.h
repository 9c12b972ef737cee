// What the C baseline loops of the lab (cbench.cc, cbench-proc.cc) share: the
// clock around the timed part, the sink that keeps the compiler from dropping
// the work (cbenchLastValue() returns it), and a range in error messages.
#pragma once

#include "lab.h"

#include <ctime>
#include <string>

namespace pagewise {
namespace lab {

// The last value a loop computed (one sink for every file of the lab).
extern volatile double g_sink;

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

inline Napi::Value Ns(Napi::Env env, uint64_t t0) {
  return Napi::Number::New(env, static_cast<double>(NowNs() - t0));
}

inline std::string RangeText(void* p, uint64_t len) {
  return "addr=" + Hex(reinterpret_cast<uint64_t>(p)) + ", length=" + std::to_string(len);
}

// The loops over /proc (cbench-proc.cc), exported by InitCBench.
Napi::Value CReadAll(const Napi::CallbackInfo& info);
Napi::Value CProcRead(const Napi::CallbackInfo& info);
Napi::Value CPagemap(const Napi::CallbackInfo& info);
Napi::Value CPagemapScan(const Napi::CallbackInfo& info);
Napi::Value CbenchMaps(const Napi::CallbackInfo& info);

}  // namespace lab
}  // namespace pagewise
