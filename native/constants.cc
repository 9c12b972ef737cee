// Constants from the platform's headers (so arm64 values are right). Where
// the build machine's headers predate a flag, uapi.h has the value from the
// kernel's uapi headers; the kernel at run time decides whether it is
// supported (see madviseProbe).
#include "pagewise.h"
#include "uapi.h"

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
  // uapiConstants: the calls newer than most headers (values in uapi.h): guard pages, droppable mappings,
  // PROCMAP_QUERY's vma_flags.
  Napi::Object k = Napi::Object::New(env);
  k.Set("MADV_GUARD_INSTALL", MADV_GUARD_INSTALL);
  k.Set("MADV_GUARD_REMOVE", MADV_GUARD_REMOVE);
  k.Set("MAP_DROPPABLE", MAP_DROPPABLE);
  k.Set("PROCMAP_QUERY_VMA_READABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_READABLE));
  k.Set("PROCMAP_QUERY_VMA_WRITABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_WRITABLE));
  k.Set("PROCMAP_QUERY_VMA_EXECUTABLE", static_cast<double>(uapi::PROCMAP_QUERY_VMA_EXECUTABLE));
  k.Set("PROCMAP_QUERY_VMA_SHARED", static_cast<double>(uapi::PROCMAP_QUERY_VMA_SHARED));
  exports.Set("uapiConstants", k);
}

}  // namespace pagewise
