// getrusage, page size, thread id. Contract in pagewise.h.
#include "args.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>

namespace pagewise {

// getrusage(who, out: Float64Array(8)): fills
// [minflt, majflt, utime_us, stime_us, maxrss_kib, nvcsw, nivcsw, inblock].
// A raw Node-API callback (hot path, see pagewise.h): one call reads the
// arguments, one the out-parameter.
static napi_value Getrusage(napi_env env, napi_callback_info cb) {
  napi_value argv[2];
  size_t argc = RawArgs(env, cb, argv);
  int64_t who;
  double* out = nullptr;
  if (!DecodeRawArgs(env, argv, argc, "getrusage", 0, &who)) return nullptr;
  if (argc < 2 || !(out = RawOutArray<double>(env, argv[1], napi_float64_array, 8)))
    return ThrowInternal(Napi::Env(env), "getrusage: need a Float64Array(8)"), nullptr;
  struct rusage ru;
  if (getrusage(static_cast<int>(who), &ru) != 0) {
    ThrowErrno(Napi::Env(env), errno, "getrusage", "who=" + std::to_string(who));
    return nullptr;
  }
  out[0] = static_cast<double>(ru.ru_minflt);
  out[1] = static_cast<double>(ru.ru_majflt);
  out[2] = static_cast<double>(ru.ru_utime.tv_sec) * 1e6 + static_cast<double>(ru.ru_utime.tv_usec);
  out[3] = static_cast<double>(ru.ru_stime.tv_sec) * 1e6 + static_cast<double>(ru.ru_stime.tv_usec);
  out[4] = static_cast<double>(ru.ru_maxrss);
  out[5] = static_cast<double>(ru.ru_nvcsw);
  out[6] = static_cast<double>(ru.ru_nivcsw);
  out[7] = static_cast<double>(ru.ru_inblock);
  return nullptr;
}

// pageSize() -> sysconf(_SC_PAGESIZE)
static Napi::Value PageSizeCall(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSize()));
}

// gettid()
static Napi::Value Gettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

void InitResources(Napi::Env env, Napi::Object exports) {
  exports.Set("getrusage", RawFunction(env, "getrusage", Getrusage));
  exports.Set("pageSize", Napi::Function::New(env, PageSizeCall, "pageSize"));
  exports.Set("gettid", Napi::Function::New(env, Gettid, "gettid"));
}

}  // namespace pagewise
