// Constants from the platform's headers (so arm64 values are right). Where
// the build machine's headers predate a flag, the value from the kernel's
// uapi headers (identical on x86-64 and arm64) is used; the kernel at run
// time decides whether it is supported (see madviseProbe).
#include "pagewise.h"

#include <sys/mman.h>
#include <sys/resource.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef RUSAGE_THREAD
#define RUSAGE_THREAD 1
#endif

namespace pagewise {

void InitConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
#define PW_C(name) c.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  PW_C(PROT_NONE) PW_C(PROT_READ) PW_C(PROT_WRITE) PW_C(PROT_EXEC)
  PW_C(MAP_SHARED) PW_C(MAP_PRIVATE) PW_C(MAP_ANONYMOUS) PW_C(MAP_FIXED) PW_C(MAP_FIXED_NOREPLACE)
  PW_C(MAP_NORESERVE) PW_C(MAP_POPULATE) PW_C(MAP_HUGETLB) PW_C(MAP_HUGE_SHIFT) PW_C(MAP_LOCKED)
  PW_C(MAP_GROWSDOWN) PW_C(MAP_STACK)
  PW_C(MADV_NORMAL) PW_C(MADV_RANDOM) PW_C(MADV_SEQUENTIAL) PW_C(MADV_WILLNEED) PW_C(MADV_DONTNEED)
  PW_C(MADV_FREE) PW_C(MADV_REMOVE) PW_C(MADV_DONTFORK) PW_C(MADV_DOFORK) PW_C(MADV_MERGEABLE)
  PW_C(MADV_UNMERGEABLE) PW_C(MADV_HUGEPAGE) PW_C(MADV_NOHUGEPAGE) PW_C(MADV_DONTDUMP) PW_C(MADV_DODUMP)
  PW_C(MADV_WIPEONFORK) PW_C(MADV_KEEPONFORK) PW_C(MADV_COLD) PW_C(MADV_PAGEOUT)
  PW_C(MADV_POPULATE_READ) PW_C(MADV_POPULATE_WRITE) PW_C(MADV_COLLAPSE)
  PW_C(MS_ASYNC) PW_C(MS_SYNC) PW_C(MS_INVALIDATE)
  PW_C(RUSAGE_SELF) PW_C(RUSAGE_CHILDREN) PW_C(RUSAGE_THREAD)
  PW_C(RLIMIT_AS) PW_C(RLIMIT_DATA) PW_C(RLIMIT_MEMLOCK)
#undef PW_C
  exports.Set("constants", c);
}

}  // namespace pagewise
