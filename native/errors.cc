// The one place that builds the errors native/ throws (pagewise.h states
// the contract), and the small helpers every wrapper uses.
#include "pagewise.h"

#include <cerrno>
#include <cstring>
#include <cinttypes>
#include <cstdio>

namespace pagewise {

const char* ErrnoName(int err) {
  switch (err) {
#define PW_ERRNO(name) case name: return #name;
    PW_ERRNO(EPERM) PW_ERRNO(ENOENT) PW_ERRNO(ESRCH) PW_ERRNO(EINTR) PW_ERRNO(EIO)
    PW_ERRNO(ENXIO) PW_ERRNO(E2BIG) PW_ERRNO(ENOEXEC) PW_ERRNO(EBADF) PW_ERRNO(ECHILD)
    PW_ERRNO(EAGAIN) PW_ERRNO(ENOMEM) PW_ERRNO(EACCES) PW_ERRNO(EFAULT) PW_ERRNO(EBUSY)
    PW_ERRNO(EEXIST) PW_ERRNO(EXDEV) PW_ERRNO(ENODEV) PW_ERRNO(ENOTDIR) PW_ERRNO(EISDIR)
    PW_ERRNO(EINVAL) PW_ERRNO(ENFILE) PW_ERRNO(EMFILE) PW_ERRNO(ENOTTY) PW_ERRNO(ETXTBSY)
    PW_ERRNO(EFBIG) PW_ERRNO(ENOSPC) PW_ERRNO(ESPIPE) PW_ERRNO(EROFS) PW_ERRNO(EPIPE)
    PW_ERRNO(ERANGE) PW_ERRNO(ENOSYS) PW_ERRNO(EOVERFLOW) PW_ERRNO(EOPNOTSUPP)
    PW_ERRNO(ENODATA) PW_ERRNO(EHWPOISON)
#undef PW_ERRNO
    default: return "UNKNOWN";
  }
}

static const char* Hint(int err, const char* syscall) {
  const bool mapping = !strcmp(syscall, "mmap") || !strcmp(syscall, "mprotect") ||
                       !strcmp(syscall, "munmap") || !strcmp(syscall, "madvise");
  if (err == ENOMEM && mapping)
    return " (the commit limit under vm.overcommit_memory=2, RLIMIT_DATA or RLIMIT_AS"
           " (ulimit -d / ulimit -v), or vm.max_map_count may have been reached)";
  if ((err == ENOMEM || err == EPERM || err == EAGAIN) &&
      (!strcmp(syscall, "mlock") || !strcmp(syscall, "mlock2")))
    return " (RLIMIT_MEMLOCK limits locked memory: see ulimit -l, or CAP_IPC_LOCK)";
  if (err == EINVAL && !strcmp(syscall, "madvise"))
    return " (this kernel may not support the advice, or the range's flags forbid it)";
  if (err == EINVAL && !strcmp(syscall, "prctl"))
    return " (naming anonymous memory needs Linux 5.17+ with CONFIG_ANON_VMA_NAME)";
  if (err == EEXIST && !strcmp(syscall, "mmap"))
    return " (MAP_FIXED_NOREPLACE refuses to replace an existing mapping)";
  return "";
}

// The one builder: an Error, TypeError or RangeError with `message` and
// `code`; for a system call also `errno` (negative, as Node reports it) and
// `syscall`; for an internal error about a region, `reason` (what lib/ reads
// instead of the message).
static Napi::Value Throw(Napi::Env env, ErrorType type, const char* code, const std::string& message, int err = 0,
                         const char* syscall = nullptr, const char* reason = nullptr) {
  Napi::Error e = type == ErrorType::TypeError    ? Napi::TypeError::New(env, message)
                  : type == ErrorType::RangeError ? Napi::RangeError::New(env, message)
                                                  : Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (syscall) {
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("syscall", Napi::String::New(env, syscall));
  }
  if (reason) e.Set("reason", Napi::String::New(env, reason));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* code = ErrnoName(err);
  return Throw(env, ErrorType::Error, code,
               std::string(code) + ": " + syscall + "(" + what + ") failed: " + strerror(err) + Hint(err, syscall), err,
               syscall);
}

Napi::Value ThrowRefused(Napi::Env env, int err, const char* syscall, const std::string& why) {
  const char* code = ErrnoName(err);
  return Throw(env, ErrorType::Error, code, std::string(code) + ": " + syscall + " refused: " + why, err, syscall);
}

Napi::Value ThrowInternal(Napi::Env env, const std::string& message, const char* reason) {
  return Throw(env, ErrorType::Error, "ERR_PAGEWISE_INTERNAL", "pagewise internal: " + message, 0, nullptr, reason);
}

napi_value ThrowState(napi_env env, const std::string& message) {
  Throw(Napi::Env(env), ErrorType::TypeError, "ERR_INVALID_STATE", message);
  return nullptr;
}

Napi::Value ThrowCoded(Napi::Env env, ErrorType type, const char* code, const std::string& message) {
  return Throw(env, type, code, message);
}

Napi::Function RawFunction(Napi::Env env, const char* name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn) != napi_ok) {
    ThrowInternal(env, std::string("cannot create function ") + name);
    return Napi::Function();
  }
  return Napi::Function(env, fn);
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

}  // namespace pagewise
