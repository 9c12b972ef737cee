// Memory behind a file descriptor: memfd_create, memfd_secret and file seals
// (fcntl F_ADD_SEALS / F_GET_SEALS). Contract in pagewise.h; policy in lib/
// (SharedMemory, secretMemory).
#include "args.h"
#include "uapi.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <string>

namespace pagewise {

// memfdCreate(name, flags) -> fd
static Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t flags;
  if (!DecodeArgs(info, "memfdCreate", 0, &name, &flags)) return env.Undefined();
  int fd = static_cast<int>(syscall(SYS_memfd_create, name.c_str(), static_cast<unsigned>(flags)));
  if (fd < 0) return ThrowErrno(env, errno, "memfd_create", "name=" + name + ", flags=" + Hex(static_cast<uint64_t>(flags)));
  return Napi::Number::New(env, fd);
}

// fcntlAddSeals(fd, seals)
static Napi::Value FcntlAddSeals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, seals;
  if (!DecodeArgs(info, "fcntlAddSeals", 0, &fd, &seals)) return env.Undefined();
  if (fcntl(static_cast<int>(fd), F_ADD_SEALS, static_cast<int>(seals)) != 0)
    return ThrowErrno(env, errno, "fcntl", "fd=" + std::to_string(fd) + ", F_ADD_SEALS, " + Hex(static_cast<uint64_t>(seals)));
  return env.Undefined();
}

// fcntlGetSeals(fd) -> seals, or -errno when the descriptor cannot have seals
// (EINVAL: not a memfd or shmem file).
static Napi::Value FcntlGetSeals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!DecodeArgs(info, "fcntlGetSeals", 0, &fd)) return env.Undefined();
  int r = fcntl(static_cast<int>(fd), F_GET_SEALS);
  if (r < 0) {
    if (errno == EINVAL) return Napi::Number::New(env, -EINVAL);
    return ThrowErrno(env, errno, "fcntl", "fd=" + std::to_string(fd) + ", F_GET_SEALS");
  }
  return Napi::Number::New(env, r);
}

// memfdSecret(flags) -> fd (memfd_secret(2), Linux 5.14: pages removed from
// the kernel's direct map; needs secretmem.enable=1 on the kernel command line).
static Napi::Value MemfdSecret(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t flags;
  if (!DecodeArgs(info, "memfdSecret", 0, &flags)) return env.Undefined();
  int fd = static_cast<int>(syscall(__NR_memfd_secret, static_cast<unsigned>(flags)));
  if (fd < 0) return ThrowErrno(env, errno, "memfd_secret", "flags=" + std::to_string(flags));
  return Napi::Number::New(env, fd);
}

void InitShared(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("fcntlAddSeals", Napi::Function::New(env, FcntlAddSeals, "fcntlAddSeals"));
  exports.Set("fcntlGetSeals", Napi::Function::New(env, FcntlGetSeals, "fcntlGetSeals"));
  exports.Set("memfdSecret", Napi::Function::New(env, MemfdSecret, "memfdSecret"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("MFD_CLOEXEC", MFD_CLOEXEC);
  c.Set("MFD_ALLOW_SEALING", MFD_ALLOW_SEALING);
  c.Set("MFD_HUGETLB", MFD_HUGETLB);
  c.Set("F_SEAL_SEAL", F_SEAL_SEAL);
  c.Set("F_SEAL_SHRINK", F_SEAL_SHRINK);
  c.Set("F_SEAL_GROW", F_SEAL_GROW);
  c.Set("F_SEAL_WRITE", F_SEAL_WRITE);
  c.Set("F_SEAL_FUTURE_WRITE", F_SEAL_FUTURE_WRITE);
  c.Set("MREMAP_MAYMOVE", MREMAP_MAYMOVE);
  c.Set("MREMAP_DONTUNMAP", MREMAP_DONTUNMAP);
  exports.Set("sharedConstants", c);
}

}  // namespace pagewise
