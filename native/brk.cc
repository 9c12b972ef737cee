// The program break: reading it is safe; moving it is not (glibc's malloc
// owns the break without a lock we can take), so brk/sbrk are for the unsafe
// export only. Contract in pagewise.h.
#include "args.h"

#include <unistd.h>
#include <sys/syscall.h>
#include <cerrno>
#include <cstdint>
#include <string>

namespace pagewise {

// sbrk0() -> bigint: the current break, sbrk(0).
static Napi::Value Sbrk0(const Napi::CallbackInfo& info) {
  void* p = sbrk(0);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// sbrk(increment) -> bigint: the previous break.
static Napi::Value Sbrk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t inc;
  if (!DecodeArgs(info, "sbrk", 0, &inc)) return env.Undefined();
  void* p = sbrk(static_cast<intptr_t>(inc));
  if (p == reinterpret_cast<void*>(-1)) return ThrowErrno(env, errno, "sbrk", "increment=" + std::to_string(inc));
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// brk(addr: bigint) -> undefined; ENOMEM when the break did not move there.
static Napi::Value Brk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address to;
  if (!DecodeArgs(info, "brk", 0, &to)) return env.Undefined();
  const uint64_t addr = to.value;
  if (brk(reinterpret_cast<void*>(addr)) != 0) return ThrowErrno(env, errno, "brk", "addr=" + Hex(addr));
  // The kernel refuses some moves silently (below the heap's start) and
  // glibc's wrapper only detects a failure to grow: check where it ended.
  if (reinterpret_cast<uintptr_t>(sbrk(0)) != addr) return ThrowErrno(env, ENOMEM, "brk", "addr=" + Hex(addr));
  return env.Undefined();
}

void InitBrk(Napi::Env env, Napi::Object exports) {
  exports.Set("sbrk0", Napi::Function::New(env, Sbrk0, "sbrk0"));
  exports.Set("sbrk", Napi::Function::New(env, Sbrk, "sbrk"));
  exports.Set("brk", Napi::Function::New(env, Brk, "brk"));
}

}  // namespace pagewise
