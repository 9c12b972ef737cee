// Regions: mmap/munmap and the ArrayBuffers over them. Contract in region.h.
#include "region.h"

#include <sys/mman.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace pagewise {

// Per-environment (main thread or worker) list of live regions, so that a
// terminating environment unmaps what it owns and drops its references while
// napi_env is still valid.
struct EnvData {
  napi_env env;
  Region* regions = nullptr;
};

static const char* kRegionTag = "pagewise.Region";
static napi_type_tag kTag = {0x70616765776973ULL, 0x526567696f6e3031ULL};

static void Unlink(Region* r) {
  if (r->env) {
    if (r->prev) r->prev->next = r->next;
    else r->env->regions = r->next;
    if (r->next) r->next->prev = r->prev;
  }
  r->prev = r->next = nullptr;
}

static void Release(napi_env env, Region* r) {
  if (--r->refs > 0) return;
  if (r->mapped) {
    munmap(r->addr, r->length);
    r->mapped = false;
  }
  if (r->env && r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, -r->reported, &ignored);
  }
  Unlink(r);
  delete r;
}

static void EnvCleanup(void* arg) {
  EnvData* d = static_cast<EnvData*>(arg);
  // No JS runs in this environment any more: unmap everything and drop the
  // weak references now, while napi_env is valid. Finalizers that run later
  // only decrement counts.
  for (Region* r = d->regions; r;) {
    Region* next = r->next;
    for (BufferRecord* b = r->buffers; b; b = b->next) {
      if (b->ref) {
        napi_delete_reference(d->env, b->ref);
        b->ref = nullptr;
      }
      b->detached = true;
    }
    if (r->mapped) {
      munmap(r->addr, r->length);
      r->mapped = false;
    }
    r->env = nullptr;
    r->prev = r->next = nullptr;
    r = next;
  }
  napi_set_instance_data(d->env, nullptr, nullptr, nullptr);
  delete d;
}

static EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

static void RegionHandleFinalize(napi_env env, void* data, void*) {
  Release(env, static_cast<Region*>(data));
}

Napi::Value NewRegionHandle(Napi::Env env, void* addr, uint64_t length, int64_t report) {
  Region* r = new Region{static_cast<uint8_t*>(addr), length, true, 1, 0, GetEnvData(env),
                         nullptr, nullptr, nullptr};
  if (r->env) {
    r->next = r->env->regions;
    if (r->next) r->next->prev = r;
    r->env->regions = r;
  }
  napi_value ext;
  if (napi_create_external(env, r, RegionHandleFinalize, nullptr, &ext) != napi_ok) {
    munmap(addr, length);
    r->mapped = false;
    Unlink(r);
    delete r;
    return ThrowInternal(env, "cannot create the region handle");
  }
  napi_type_tag_object(env, ext, &kTag);
  if (report > 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, report, &ignored);
    r->reported = report;
  }
  return Napi::Value(env, ext);
}

Region* UnwrapRegionValue(napi_env env, napi_value v, bool needMapped) {
  bool isTagged = false;
  if (v == nullptr || napi_check_object_type_tag(env, v, &kTag, &isTagged) != napi_ok || !isTagged) {
    ThrowInternal(Napi::Env(env), std::string("argument is not a ") + kRegionTag);
    return nullptr;
  }
  void* data = nullptr;
  napi_get_value_external(env, v, &data);
  Region* r = static_cast<Region*>(data);
  if (needMapped && !r->mapped) {
    ThrowInternal(Napi::Env(env), "region is unmapped");
    return nullptr;
  }
  return r;
}

Region* UnwrapRegion(const Napi::CallbackInfo& info, size_t i, bool needMapped) {
  return UnwrapRegionValue(info.Env(), i < info.Length() ? static_cast<napi_value>(info[i]) : nullptr, needMapped);
}

bool RangeInside(Region* r, uint64_t offset, uint64_t length) {
  return offset <= r->length && length <= r->length - offset;
}

Region* RegionRangeArgs(napi_env env, const napi_value* argv, size_t argc, size_t i, uint64_t* offset, uint64_t* length) {
  Region* r = UnwrapRegionValue(env, i < argc ? argv[i] : nullptr, true);
  if (!r) return nullptr;
  if (i + 2 >= argc || !ValueU64(env, argv[i + 1], offset) || !ValueU64(env, argv[i + 2], length) ||
      !RangeInside(r, *offset, *length)) {
    ThrowInternal(Napi::Env(env), "range outside the region");
    return nullptr;
  }
  return r;
}

Region* RegionRange(const Napi::CallbackInfo& info, size_t i, uint64_t* offset, uint64_t* length) {
  napi_value argv[3];
  size_t argc = 0;
  while (argc < 3 && i + argc < info.Length()) argv[argc] = info[i + argc], argc++;
  return RegionRangeArgs(info.Env(), argv, argc, 0, offset, length);
}

size_t DetachRange(napi_env env, Region* r, uint64_t offset, uint64_t length) {
  size_t n = 0;
  for (BufferRecord* b = r->buffers; b; b = b->next) {
    if (b->detached) continue;
    bool overlaps = length == r->length && offset == 0
                        ? true
                        : b->offset < offset + length && offset < b->offset + b->length;
    if (!overlaps) continue;
    napi_value ab = nullptr;
    if (b->ref) napi_get_reference_value(env, b->ref, &ab);
    if (ab) {
      napi_detach_arraybuffer(env, ab);
      n++;
    }
    b->detached = true;
  }
  return n;
}

static void BufferFinalize(napi_env env, void*, void* hint) {
  BufferRecord* b = static_cast<BufferRecord*>(hint);
  Region* r = b->region;
  if (b->ref && r->env) napi_delete_reference(env, b->ref);
  if (b->prev) b->prev->next = b->next;
  else r->buffers = b->next;
  if (b->next) b->next->prev = b->prev;
  delete b;
  Release(env, r);
}

static int ProtFromArgs(int64_t prot) { return static_cast<int>(prot); }

// mmap(length, prot, flags, fd, offset, hint: bigint | 0n, report) -> Region
static Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset, hint;
  int64_t prot, flags, fd, report;
  if (!GetU64(info, 0, &length) || !GetI64(info, 1, &prot) || !GetI64(info, 2, &flags) ||
      !GetI64(info, 3, &fd) || !GetU64(info, 4, &offset) || !GetBigAddr(info, 5, &hint) ||
      !GetI64(info, 6, &report))
    return ThrowInternal(env, "mmap: bad arguments");
  void* want = reinterpret_cast<void*>(hint);
  void* p = mmap(want, length, ProtFromArgs(prot), static_cast<int>(flags), static_cast<int>(fd),
                 static_cast<off_t>(offset));
  // The message is built only on failure (strings cost more than the call).
  auto what = [&]() {
    return "length=" + std::to_string(length) + ", prot=" + std::to_string(prot) +
           ", flags=" + Hex(static_cast<uint64_t>(flags)) +
           (fd >= 0 ? ", fd=" + std::to_string(fd) + ", offset=" + std::to_string(offset) : std::string()) +
           (hint ? ", addr=" + Hex(hint) : std::string());
  };
  if (p == MAP_FAILED) {
    int err = errno;
    return ThrowErrno(env, err, "mmap", what());
  }
#ifdef MAP_FIXED_NOREPLACE
  // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the address as a
  // hint: check what we got.
  if ((flags & MAP_FIXED_NOREPLACE) && p != want) {
    munmap(p, length);
    return ThrowErrno(env, EEXIST, "mmap", what());
  }
#endif
  return NewRegionHandle(env, p, length, report);
}

// munmap(region) -> number of ArrayBuffers detached. Idempotent.
static Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return env.Undefined();
  if (!r->mapped) return Napi::Number::New(env, 0);
  size_t n = DetachRange(env, r, 0, r->length);
  if (munmap(r->addr, r->length) != 0)
    return ThrowErrno(env, errno, "munmap", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) +
                                                ", length=" + std::to_string(r->length));
  r->mapped = false;
  if (r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, -r->reported, &ignored);
    r->reported = 0;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// regionBuffer(region, offset, length) -> ArrayBuffer over that range.
static Napi::Value RegionBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  // Link the record and take the reference before asking Node: when Node
  // refuses after registering the finalizer (a length above its largest
  // Buffer: ERR_BUFFER_TOO_LARGE, reported as napi_pending_exception), it
  // runs BufferFinalize at once or later, and that unlinks and releases.
  // Deleting `b` here as well was a double free (and a Region freed under
  // its handle).
  BufferRecord* b = new BufferRecord{r, nullptr, off, len, false, nullptr, r->buffers};
  r->refs++;
  if (r->buffers) r->buffers->prev = b;
  r->buffers = b;
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, r->addr + off, len, BufferFinalize, b, &ab);
  if (st != napi_ok) {
    // These statuses return before the finalizer exists: the record is still
    // ours. So does napi_pending_exception with no exception pending: the
    // environment is terminating (a worker being stopped). For any other the
    // finalizer owns it (when unsure, a leak of the record beats a double free).
    bool thrown = false;
    napi_is_exception_pending(env, &thrown);
    if (st == napi_no_external_buffers_allowed || st == napi_invalid_arg || st == napi_cannot_run_js ||
        (st == napi_pending_exception && !thrown)) {
      b->detached = true;
      if (b->prev) b->prev->next = b->next;
      else r->buffers = b->next;
      if (b->next) b->next->prev = b->prev;
      delete b;
      r->refs--;
    }
    const napi_extended_error_info* ei = nullptr;
    napi_get_last_error_info(env, &ei);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      // Node's own error says why (ERR_BUFFER_TOO_LARGE is a RangeError): keep it.
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_throw(env, ex);
      return env.Undefined();
    }
    Napi::Error e = Napi::Error::New(
        env, std::string("cannot create an external ArrayBuffer of ") + std::to_string(len) +
                 " bytes: " + (ei && ei->error_message ? ei->error_message : "refused") +
                 " (runtimes with the V8 memory sandbox, such as Electron, forbid external"
                 " ArrayBuffers)");
    e.Set("code", Napi::String::New(env, "ERR_PAGEWISE_EXTERNAL_BUFFER"));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_create_reference(env, ab, 0, &b->ref);
  return Napi::Value(env, ab);
}

// regionDetach(region, offset, length) -> number of ArrayBuffers detached.
static Napi::Value RegionDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return env.Undefined();
  if (!GetU64(info, 1, &off) || !GetU64(info, 2, &len) || !RangeInside(r, off, len))
    return ThrowInternal(env, "range outside the region");
  return Napi::Number::New(env, static_cast<double>(DetachRange(env, r, off, len)));
}

// detachArrayBuffer(ab): detaches one ArrayBuffer made by regionBuffer.
static Napi::Value DetachOne(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool detachable = info.Length() > 0 && info[0].IsArrayBuffer();
  if (!detachable) return ThrowInternal(env, "detachArrayBuffer: not an ArrayBuffer");
  napi_detach_arraybuffer(env, info[0]);
  return env.Undefined();
}

// regionAddress(region) -> bigint
static Napi::Value RegionAddress(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return info.Env().Undefined();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(r->addr)));
}

// regionRemap(region, offset, length, prot, flags): mmap(MAP_FIXED) over a
// sub-range of a region pagewise owns, e.g. to decommit with PROT_NONE. The
// caller's ArrayBuffers over the range are detached first.
static Napi::Value RegionRemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  int64_t prot, flags;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  if (!GetI64(info, 3, &prot) || !GetI64(info, 4, &flags))
    return ThrowInternal(env, "regionRemap: bad arguments");
  DetachRange(env, r, off, len);
  void* want = r->addr + off;
  void* p = mmap(want, len, static_cast<int>(prot),
                 static_cast<int>(flags) | MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(want)) + ", length=" +
                          std::to_string(len) + ", prot=" + std::to_string(prot) + ", MAP_FIXED");
  return env.Undefined();
}

// regionReport(region, bytes): sets how many bytes of the region are reported
// to V8 as external memory (napi_adjust_external_memory by the difference),
// e.g. the committed part of an arena. The last reference's release (or
// munmap) takes the report back.
static Napi::Value RegionReport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  int64_t bytes;
  if (!GetI64(info, 1, &bytes) || bytes < 0) return ThrowInternal(env, "regionReport: bad size");
  if (bytes != r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, bytes - r->reported, &ignored);
    r->reported = bytes;
  }
  return env.Undefined();
}

// unsafeMmapFixed(addr, length, prot, flags, fd, offset) -> Region. MAP_FIXED
// at a caller's address replaces whatever was there (heap, code, V8's own
// memory): only for the unsafe export.
static Napi::Value UnsafeMmapFixed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t addr, length, offset;
  int64_t prot, flags, fd;
  if (!GetBigAddr(info, 0, &addr) || !GetU64(info, 1, &length) || !GetI64(info, 2, &prot) ||
      !GetI64(info, 3, &flags) || !GetI64(info, 4, &fd) || !GetU64(info, 5, &offset))
    return ThrowInternal(env, "unsafeMmapFixed: bad arguments");
  void* p = mmap(reinterpret_cast<void*>(addr), length, static_cast<int>(prot),
                 static_cast<int>(flags) | MAP_FIXED, static_cast<int>(fd), static_cast<off_t>(offset));
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(addr) + ", length=" + std::to_string(length) + ", MAP_FIXED");
  return NewRegionHandle(env, p, length, 0);
}

static void InstallEnvData(Napi::Env env) {
  if (GetEnvData(env)) return;
  EnvData* d = new EnvData{env, nullptr};
  napi_set_instance_data(env, d, nullptr, nullptr);
  // Registered after the napi_env's own teardown hook, so it runs before it.
  napi_add_env_cleanup_hook(env, EnvCleanup, d);
}

void InitRegion(Napi::Env env, Napi::Object exports) {
  InstallEnvData(env);
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("regionBuffer", Napi::Function::New(env, RegionBuffer, "regionBuffer"));
  exports.Set("regionDetach", Napi::Function::New(env, RegionDetach, "regionDetach"));
  exports.Set("detachArrayBuffer", Napi::Function::New(env, DetachOne, "detachArrayBuffer"));
  exports.Set("regionAddress", Napi::Function::New(env, RegionAddress, "regionAddress"));
  exports.Set("regionRemap", Napi::Function::New(env, RegionRemap, "regionRemap"));
  exports.Set("regionReport", Napi::Function::New(env, RegionReport, "regionReport"));
  exports.Set("unsafeMmapFixed", Napi::Function::New(env, UnsafeMmapFixed, "unsafeMmapFixed"));
}

}  // namespace pagewise
