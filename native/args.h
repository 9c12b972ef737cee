// The repeated preambles of the native wrappers, one helper each: argument
// decoding, Float64Array/Uint8Array out-parameters, the page size, a pair of numbers returned. Decoding
// only, no policy (pagewise.h: lib/ has validated; a failure here means lib/
// let something through and the wrapper throws ERR_PAGEWISE_INTERNAL).
#pragma once

#include "pagewise.h"

#include <unistd.h>
#include <cstdint>
#include <optional>
#include <string>

namespace pagewise {

// sysconf(_SC_PAGESIZE), the base page size (never a constant 4096).
inline uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

// THE argument decoding of native/ (one style for every wrapper): the
// wrapper declares one typed local per argument and decodes them all with
// DecodeArgs (node-addon-api callbacks) or DecodeRawArgs (the raw Node-API
// callbacks of the hot paths, see RawArgs in pagewise.h); the type of each
// local says what the argument must be:
//   uint64_t     an integral Number in [0, 2^53] (lengths, offsets)
//   int64_t      an integral Number in [-2^53, 2^53] (flags, fds, advice)
//   Address      a BigInt that fits in 64 bits (addresses)
//   bool         a Boolean
//   std::string  a String (UTF-8)
//   std::optional<std::string>  a String, or null (nullopt)
//   Bytes        a Uint8Array, or null for none
//   BigUint64s, Float64s  a BigUint64Array, a Float64Array (input arrays)
// Regions are unwrapped with RegionRange/UnwrapRegion (region.h), typed
// out-parameters with OutArray/OutF64 below.

// An address argument: a BigInt.
struct Address {
  uint64_t value;
};

// A Uint8Array argument, or null (data == nullptr, length 0).
struct Bytes {
  uint8_t* data;
  size_t length;
};

inline bool DecodeValue(napi_env env, napi_value v, int64_t* out) {
  double d;
  if (v == nullptr || napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0)) return false;
  int64_t r = static_cast<int64_t>(d);
  if (static_cast<double>(r) != d) return false;
  *out = r;
  return true;
}
inline bool DecodeValue(napi_env env, napi_value v, uint64_t* out) {
  int64_t r;
  if (!DecodeValue(env, v, &r) || r < 0) return false;
  *out = static_cast<uint64_t>(r);
  return true;
}
inline bool DecodeValue(napi_env env, napi_value v, Address* out) {
  bool lossless = false;
  return v != nullptr && napi_get_value_bigint_uint64(env, v, &out->value, &lossless) == napi_ok && lossless;
}
inline bool DecodeValue(napi_env env, napi_value v, bool* out) {
  return v != nullptr && napi_get_value_bool(env, v, out) == napi_ok;
}
inline bool DecodeValue(napi_env env, napi_value v, std::string* out) {
  size_t n = 0;
  if (v == nullptr || napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return false;
  out->assign(n, '\0');
  return napi_get_value_string_utf8(env, v, &(*out)[0], n + 1, &n) == napi_ok;
}

// A typed array argument of one element type: its elements and their count.
template <typename T, napi_typedarray_type Type>
struct TypedArg {
  T* data;
  size_t length;
};
using BigUint64s = TypedArg<uint64_t, napi_biguint64_array>;
using Float64s = TypedArg<double, napi_float64_array>;

template <typename T, napi_typedarray_type Type>
inline bool DecodeValue(napi_env env, napi_value v, TypedArg<T, Type>* out) {
  bool isTyped = false;
  napi_typedarray_type type;
  void* data = nullptr;
  size_t length = 0;
  if (v == nullptr || napi_is_typedarray(env, v, &isTyped) != napi_ok || !isTyped ||
      napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != Type)
    return false;
  *out = {static_cast<T*>(data), length};
  return true;
}

inline bool IsNull(napi_env env, napi_value v) {
  napi_valuetype t;
  return v != nullptr && napi_typeof(env, v, &t) == napi_ok && t == napi_null;
}
inline bool DecodeValue(napi_env env, napi_value v, std::optional<std::string>* out) {
  if (IsNull(env, v)) {
    out->reset();
    return true;
  }
  out->emplace();
  return DecodeValue(env, v, &**out);
}
inline bool DecodeValue(napi_env env, napi_value v, Bytes* out) {
  if (IsNull(env, v)) {
    *out = {nullptr, 0};
    return true;
  }
  TypedArg<uint8_t, napi_uint8_array> bytes;
  if (!DecodeValue(env, v, &bytes)) return false;
  *out = {bytes.data, bytes.length};
  return true;
}

// Decodes argv[first], argv[first + 1], ... (argc of them passed) into `outs`
// by their type. On the first failure throws ERR_PAGEWISE_INTERNAL "<name>:
// bad arguments" and returns false (the wrapper then returns at once).
template <typename... T>
inline bool DecodeRawArgs(napi_env env, const napi_value* argv, size_t argc, const char* name, size_t first, T*... outs) {
  size_t i = first;
  auto arg = [&]() -> napi_value { return i < argc ? argv[i++] : nullptr; };
  if ((DecodeValue(env, arg(), outs) && ...)) return true;
  ThrowInternal(Napi::Env(env), std::string(name) + ": bad arguments");
  return false;
}

// The same for a node-addon-api callback: info[first], info[first + 1], ...
template <typename... T>
inline bool DecodeArgs(const Napi::CallbackInfo& info, const char* name, size_t first, T*... outs) {
  size_t i = first;
  auto arg = [&]() -> napi_value { return i < info.Length() ? static_cast<napi_value>(info[i++]) : nullptr; };
  if ((DecodeValue(info.Env(), arg(), outs) && ...)) return true;
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

// A two-number result ([bytes, calls], [fd, fd]) as a JS array.
inline Napi::Value NumberPair(Napi::Env env, double a, double b) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, a));
  out.Set(1u, Napi::Number::New(env, b));
  return out;
}

}  // namespace pagewise
