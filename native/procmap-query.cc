// ioctl(PROCMAP_QUERY) on a /proc/PID/maps descriptor the caller opened
// (Linux 6.11): the mapping covering (or following) an address, without
// reading the text of the whole file. Contract in pagewise.h; policy in lib/
// (queryMapping, readMapsByQuery).
#include "args.h"
#include "uapi.h"

#include <sys/ioctl.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace pagewise {

// procmapQuery(fd, address: bigint, next: boolean, nameBuf: Uint8Array) ->
// [start, end, flags, pageSize, offset, inode, devMajor, devMinor, nameLength] (bigint for addresses)
// or null when nothing covers (or follows) the address (ENOENT).
static Napi::Value ProcmapQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  Address addr;
  bool next;
  Bytes name;
  if (!DecodeArgs(info, "procmapQuery", 0, &fd, &addr, &next, &name)) return env.Undefined();
  uapi::procmap_query q;
  memset(&q, 0, sizeof q);
  q.size = sizeof q;
  q.query_addr = addr.value;
  q.query_flags = next ? uapi::COVERING_OR_NEXT_VMA : 0;
  if (name.length > 0) {
    q.vma_name_addr = reinterpret_cast<uint64_t>(name.data);
    q.vma_name_size = static_cast<uint32_t>(name.length);
  }
  if (ioctl(static_cast<int>(fd), uapi::PROCMAP_QUERY, &q) != 0) {
    if (errno == ENOENT) return env.Null();
    return ThrowErrno(env, errno, "ioctl", "PROCMAP_QUERY, addr=" + Hex(addr.value));
  }
  Napi::Array out = Napi::Array::New(env, 9);
  out.Set(0u, Napi::BigInt::New(env, q.vma_start));
  out.Set(1u, Napi::BigInt::New(env, q.vma_end));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(q.vma_flags)));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(q.vma_page_size)));
  out.Set(4u, Napi::BigInt::New(env, q.vma_offset));
  out.Set(5u, Napi::Number::New(env, static_cast<double>(q.inode)));
  out.Set(6u, Napi::Number::New(env, q.dev_major));
  out.Set(7u, Napi::Number::New(env, q.dev_minor));
  out.Set(8u, Napi::Number::New(env, q.vma_name_size));
  return out;
}

void InitProcmapQuery(Napi::Env env, Napi::Object exports) {
  exports.Set("procmapQuery", Napi::Function::New(env, ProcmapQuery, "procmapQuery"));
}

}  // namespace pagewise
