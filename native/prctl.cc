// Process-wide memory settings made by prctl(2): the THP opt-out
// (PR_SET_THP_DISABLE, 3.15; PR_THP_DISABLE_EXCEPT_ADVISED, 6.18) and the KSM
// opt-in of every mapping (PR_SET_MEMORY_MERGE, 6.4 with CONFIG_KSM). Each
// setting has a set and a get export, named for the prctl option. Contract in
// pagewise.h; policy in lib/ (the THP policy, memoryMerge).
#include "args.h"
#include "uapi.h"

#include <sys/prctl.h>
#include <cerrno>
#include <string>

namespace pagewise {

// prctlSetThpDisable(disable: 0|1, flags): prctl(PR_SET_THP_DISABLE, disable, flags, 0, 0).
static Napi::Value PrctlSetThpDisable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t disable, flags;
  if (!DecodeArgs(info, "prctlSetThpDisable", 0, &disable, &flags)) return env.Undefined();
  if (prctl(PR_SET_THP_DISABLE, static_cast<unsigned long>(disable), static_cast<unsigned long>(flags), 0UL, 0UL) != 0)
    return ThrowErrno(env, errno, "prctl", "PR_SET_THP_DISABLE, " + std::to_string(disable) + ", flags=" + std::to_string(flags));
  return env.Undefined();
}

// prctlGetThpDisable() -> prctl(PR_GET_THP_DISABLE): 0, 1 (disabled), or
// 1 | PR_THP_DISABLE_EXCEPT_ADVISED.
static Napi::Value PrctlGetThpDisable(const Napi::CallbackInfo& info) {
  int rc = prctl(PR_GET_THP_DISABLE, 0UL, 0UL, 0UL, 0UL);
  if (rc < 0) return ThrowErrno(info.Env(), errno, "prctl", "PR_GET_THP_DISABLE");
  return Napi::Number::New(info.Env(), rc);
}

// prctlSetMemoryMerge(on: 0|1): prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0):
// every present and future mapping of the process becomes a KSM candidate.
static Napi::Value PrctlSetMemoryMerge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t on;
  if (!DecodeArgs(info, "prctlSetMemoryMerge", 0, &on)) return env.Undefined();
  if (prctl(PR_SET_MEMORY_MERGE, static_cast<unsigned long>(on), 0UL, 0UL, 0UL) != 0)
    return ThrowErrno(env, errno, "prctl", "PR_SET_MEMORY_MERGE, " + std::to_string(on));
  return env.Undefined();
}

// prctlGetMemoryMerge() -> prctl(PR_GET_MEMORY_MERGE): 0 or 1.
static Napi::Value PrctlGetMemoryMerge(const Napi::CallbackInfo& info) {
  int rc = prctl(PR_GET_MEMORY_MERGE, 0UL, 0UL, 0UL, 0UL);
  if (rc < 0) return ThrowErrno(info.Env(), errno, "prctl", "PR_GET_MEMORY_MERGE");
  return Napi::Number::New(info.Env(), rc);
}

void InitPrctl(Napi::Env env, Napi::Object exports) {
  exports.Set("prctlSetThpDisable", Napi::Function::New(env, PrctlSetThpDisable, "prctlSetThpDisable"));
  exports.Set("prctlGetThpDisable", Napi::Function::New(env, PrctlGetThpDisable, "prctlGetThpDisable"));
  exports.Set("prctlSetMemoryMerge", Napi::Function::New(env, PrctlSetMemoryMerge, "prctlSetMemoryMerge"));
  exports.Set("prctlGetMemoryMerge", Napi::Function::New(env, PrctlGetMemoryMerge, "prctlGetMemoryMerge"));
}

}  // namespace pagewise
