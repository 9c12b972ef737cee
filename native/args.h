// The repeated preambles of the native wrappers, one helper each: argument
// decoding, Float64Array/Uint8Array out-parameters, the page size. Decoding
// only, no policy (pagewise.h: lib/ has validated; a failure here means lib/
// let something through and the wrapper throws ERR_PAGEWISE_INTERNAL).
#pragma once

#include "pagewise.h"

#include <unistd.h>
#include <cstdint>
#include <string>
#include <type_traits>

namespace pagewise {

// sysconf(_SC_PAGESIZE), the base page size (never a constant 4096).
inline uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

// An address argument: a BigInt (GetBigAddr), for DecodeArgs.
struct Address {
  uint64_t value;
};

template <typename T>
inline bool DecodeArg(const Napi::CallbackInfo& info, size_t i, T* out) {
  if constexpr (std::is_same_v<T, uint64_t>) return GetU64(info, i, out);
  else if constexpr (std::is_same_v<T, int64_t>) return GetI64(info, i, out);
  else if constexpr (std::is_same_v<T, Address>) return GetBigAddr(info, i, &out->value);
  else static_assert(sizeof(T) == 0, "DecodeArg: uint64_t (Number >= 0), int64_t (Number) or Address (BigInt)");
}

// Decodes info[first], info[first + 1], ... into `outs` by their type:
// uint64_t and int64_t from integral Numbers, Address from a BigInt. On the
// first failure throws ERR_PAGEWISE_INTERNAL "<name>: bad arguments" and
// returns false (the wrapper then returns at once).
template <typename... T>
inline bool DecodeArgs(const Napi::CallbackInfo& info, const char* name, size_t first, T*... outs) {
  size_t i = first;
  if ((DecodeArg(info, i++, outs) && ...)) return true;
  ThrowInternal(info.Env(), std::string(name) + ": bad arguments");
  return false;
}

// The elements of the typed array `v` when it is of `type` with at least
// `minLength` elements, or nullptr. One napi_get_typedarray_info call (its
// data pointer already includes the byte offset): out-parameters sit on hot
// measurement paths, and each further Node-API call costs there.
// (`*ok` tells a match apart from an empty array, whose data may be null.)
template <typename T>
inline T* RawOutArray(napi_env env, napi_value v, napi_typedarray_type type, size_t minLength, bool* ok = nullptr) {
  napi_typedarray_type t;
  size_t length = 0;
  void* data = nullptr;
  bool match = v != nullptr && napi_get_typedarray_info(env, v, &t, &length, &data, nullptr, nullptr) == napi_ok &&
               t == type && length >= minLength && (data != nullptr || minLength == 0);
  if (ok) *ok = match;
  return match ? static_cast<T*>(data) : nullptr;
}

// The elements of the out-parameter info[i] when it is a typed array of
// `type` with at least `minLength` elements; otherwise throws
// ERR_PAGEWISE_INTERNAL "<name>: need a <what>" and returns nullptr.
template <typename T>
inline T* OutArray(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, size_t minLength, const char* name,
                   const char* what) {
  bool ok = false;
  T* p = i < info.Length() ? RawOutArray<T>(info.Env(), info[i], type, minLength, &ok) : nullptr;
  if (ok) return p;
  ThrowInternal(info.Env(), std::string(name) + ": need a " + what);
  return nullptr;
}

// The common case: a Float64Array of at least `minLength` numbers.
inline double* OutF64(const Napi::CallbackInfo& info, size_t i, size_t minLength, const char* name) {
  return OutArray<double>(info, i, napi_float64_array, minLength, name,
                          ("Float64Array(" + std::to_string(minLength) + ")").c_str());
}

}  // namespace pagewise
