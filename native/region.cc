// Regions: their lifetime and the ArrayBuffers over them (buffer records,
// escape checks, environment teardown, finalizers, handles). Contract in
// region.h. The calls over a Region are in region-calls.cc, sharing with
// worker threads in region-share.cc, resizing in region-resize.cc, the
// vm.max_map_count headroom in maplimit.cc.
#include "region-internal.h"

#include <sys/mman.h>
#include <cerrno>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pagewise {

static const char* kRegionTag = "pagewise.Region";
static napi_type_tag kTag = {0x70616765776973ULL, 0x526567696f6e3031ULL};

// --- regions and records ----------------------------------------------------

static void Unlink(Region* r) {
  if (r->env) {
    if (r->prev) r->prev->next = r->next;
    else r->env->regions = r->next;
    if (r->next) r->next->prev = r->prev;
  }
  r->prev = r->next = nullptr;
}

// Whether MADV_DONTNEED empties private anonymous pages here (qemu-user
// ignores madvise): probed once on a page of our own.
bool DontneedZeroes() {
  static const bool zeroes = [] {
    const uint64_t page = PageSize();
    void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    volatile uint8_t* b = static_cast<uint8_t*>(p);
    b[0] = 1;
    bool ok = madvise(p, page, MADV_DONTNEED) == 0 && b[0] == 0;
    munmap(p, page);
    return ok;
  }();
  return zeroes;
}

int ZeroInPlace(Region* r, uint64_t offset, uint64_t length) {
  if (length == 0) return 0;
  void* want = r->addr + offset;
  void* p = mmap(want, length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? errno : 0;
}

// --- held ranges, process-wide ---------------------------------------------
// What every environment's regions hold, kept beside the regions (which only
// their own thread touches) so that regionsHeld() in any thread reads all of
// them: a worker's mappings are pagewise's in explain() of the main thread.
static std::mutex g_heldMutex;
static std::unordered_map<const Region*, std::pair<uint64_t, uint64_t>>* g_held =
    new std::unordered_map<const Region*, std::pair<uint64_t, uint64_t>>();  // never freed: used at exit

void SyncHeld(const Region* r) {
  std::lock_guard<std::mutex> lock(g_heldMutex);
  if (r->held && r->addr != nullptr && r->length > 0)
    (*g_held)[r] = {reinterpret_cast<uint64_t>(r->addr), reinterpret_cast<uint64_t>(r->addr) + r->length};
  else
    g_held->erase(r);
}

// Gives the address range back: munmap, or one reference of a shared backing.
void ReleaseMemory(Region* r) {
  if (!r->held) return;
  r->held = false;
  SyncHeld(r);
  if (r->backing) {
    Backing* b = r->backing;
    r->backing = nullptr;
    if (r->leak) b->leak = true;
    if (r->leak && r->keepData) b->keepData = true;
    BackingUnref(b);
  } else if (!r->leak) {
    munmap(r->addr, r->length);
  }
}

static void Release(napi_env env, Region* r) {
  if (--r->refs > 0) return;
  ReleaseMemory(r);
  r->held = r->mapped = false;
  if (r->env && r->reported) {
    int64_t ignored;
    napi_adjust_external_memory(env, -r->reported, &ignored);
  }
  Unlink(r);
  delete r;
}

static void UnlinkRecord(BufferRecord* b) {
  Region* r = b->region;
  if (b->prev) b->prev->next = b->next;
  else r->buffers = b->next;
  if (b->next) b->next->prev = b->prev;
  b->prev = b->next = nullptr;
}

// A record dies when both its backing store and its ArrayBuffer object are
// gone; the last record of an unmapped (zero-filled) range releases it, even
// while the Mapping's handle lives on.
static void MaybeDropRecord(napi_env env, BufferRecord* b) {
  if (b->storeAlive || b->objectAlive) return;
  Region* r = b->region;
  if (b->ref && r->env) napi_delete_reference(env, b->ref);
  b->ref = nullptr;
  UnlinkRecord(b);
  if (Region* g = b->pin) {
    // The last buffer that could reach a range cut off by resize() lets it go.
    if (--g->refs == 0) {
      ReleaseMemory(g);
      Unlink(g);
      delete g;
    }
  }
  delete b;
  if (!r->mapped && r->held && !r->leak && r->buffers == nullptr) ReleaseMemory(r);
  Release(env, r);
}

// Whether the memory of `b` may be held by an ArrayBuffer pagewise did not
// make: its backing store lives while the ArrayBuffer object pagewise made was
// detached by someone else (transfer(), postMessage), or was collected (the
// store then lives on in whatever it was moved to, or its release is still
// queued: the two cannot be told apart until the store's finalizer runs, so
// both count). The escape is recorded in the record, which lives as long as
// the backing store does: a GC of the JS object cannot erase it. Once the
// store is freed nothing can reach the memory and the record goes.
bool CheckEscape(napi_env env, BufferRecord* b) {
  if (b->escaped) return true;
  if (b->detached || !b->storeAlive) return false;
  napi_value ab = nullptr;
  if (b->ref && b->objectAlive) napi_get_reference_value(env, b->ref, &ab);
  bool det = true;  // collected: counts as moved away
  if (ab != nullptr) napi_is_detached_arraybuffer(env, ab, &det);
  if (det) {
    b->escaped = true;
    b->unsure = ab == nullptr;
  }
  return b->escaped;
}

// At teardown: escaped, or collected with the backing store not known freed
// (CheckEscape counts both).
static bool MayOutlive(napi_env env, BufferRecord* b) { return CheckEscape(env, b); }

static bool Overlaps(Region* r, BufferRecord* b, uint64_t offset, uint64_t length) {
  return (offset == 0 && length == r->length) || (b->offset < offset + length && offset < b->offset + b->length);
}

bool RangeEscaped(napi_env env, Region* r, uint64_t offset, uint64_t length) {
  bool any = false;
  for (BufferRecord* b = r->buffers; b; b = b->next)
    if (Overlaps(r, b, offset, length) && CheckEscape(env, b)) any = true;
  return any;
}

bool RangeEscapeUnsure(Region* r, uint64_t offset, uint64_t length) {
  for (BufferRecord* b = r->buffers; b; b = b->next)
    if (Overlaps(r, b, offset, length) && b->escaped && !b->unsure) return false;
  return true;
}

bool RangeBusy(Region* r, uint64_t offset, uint64_t length) {
  for (BufferRecord* b = r->buffers; b; b = b->next)
    if (Overlaps(r, b, offset, length)) return true;
  return false;
}

static void EnvCleanup(void* arg) {
  EnvData* d = static_cast<EnvData*>(arg);
  d->tearingDown = true;
  // No JS runs in this environment any more: unmap what nothing else can
  // reach and drop the weak references now, while napi_env is valid.
  // Finalizers that run later only decrement counts.
  for (Region* r = d->regions; r;) {
    Region* next = r->next;
    for (BufferRecord* b = r->buffers; b; b = b->next) {
      if (MayOutlive(d->env, b)) r->leak = true;
      if (b->ref) {
        napi_delete_reference(d->env, b->ref);
        b->ref = nullptr;
      }
      b->detached = true;
    }
    if (r->held) {
      // A buffer that moved to another thread may still use it: the range
      // stays (ReleaseMemory does not unmap a leaked range), with its bytes
      // when the move is known ('exit' saw it), zero-filled when it is only
      // possible (a worker stopped by terminate(): no memory kept).
      if (r->leak && !r->keepData && !SharedElsewhere(r)) ZeroInPlace(r, 0, r->length);
      ReleaseMemory(r);
    }
    r->held = r->mapped = false;
    r->env = nullptr;
    r->prev = r->next = nullptr;
    r = next;
  }
  napi_set_instance_data(d->env, nullptr, nullptr, nullptr);
  delete d;
}

EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

static void RegionHandleFinalize(napi_env env, void* data, void*) {
  Release(env, static_cast<Region*>(data));
}

Napi::Value NewRegionHandle(Napi::Env env, void* addr, uint64_t length, int64_t report) {
  return NewRegionHandleOver(env, addr, length, report, nullptr);
}

// A region over `addr`; with `backing`, one reference of it already taken.
Napi::Value NewRegionHandleOver(Napi::Env env, void* addr, uint64_t length, int64_t report, Backing* backing, uint64_t growLimit) {
  Region* r = new Region{static_cast<uint8_t*>(addr), length, true, true, false, false, false, backing, 1, 0, GetEnvData(env),
                         nullptr, nullptr, nullptr};
  r->growLimit = growLimit;
  if (r->env) {
    r->next = r->env->regions;
    if (r->next) r->next->prev = r;
    r->env->regions = r;
  }
  SyncHeld(r);
  napi_value ext;
  if (napi_create_external(env, r, RegionHandleFinalize, nullptr, &ext) != napi_ok) {
    ReleaseMemory(r);
    r->mapped = r->held = false;
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
    ThrowInternal(Napi::Env(env), std::string("argument is not a ") + kRegionTag, "not-a-region");
    return nullptr;
  }
  void* data = nullptr;
  napi_get_value_external(env, v, &data);
  Region* r = static_cast<Region*>(data);
  if (needMapped && !r->mapped) {
    ThrowInternal(Napi::Env(env), "region is unmapped", "unmapped");
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
  if (i + 2 >= argc || !DecodeValue(env, argv[i + 1], offset) || !DecodeValue(env, argv[i + 2], length) ||
      !RangeInside(r, *offset, *length)) {
    ThrowInternal(Napi::Env(env), "range outside the region", "range");
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
    if (b->detached || !Overlaps(r, b, offset, length)) continue;
    CheckEscape(env, b);  // before detaching: a transferred buffer must stay known as escaped
    napi_value ab = nullptr;
    if (b->ref) napi_get_reference_value(env, b->ref, &ab);
    bool already = true;
    if (ab) napi_is_detached_arraybuffer(env, ab, &already);
    if (!already) {
      napi_detach_arraybuffer(env, ab);
      n++;
    }
    b->detached = true;
  }
  return n;
}

// The backing store is freed (or the environment is torn down, when Node's
// hook runs this for every buffer, escaped or not: TeardownBegins has
// recorded which escaped).
// Whether JS can run in `env` now (false while the environment is torn down).
static bool JsCanRun(napi_env env, EnvData* d) {
  if (!d || !d->noop) return false;
  napi_value fn, recv, res;
  if (napi_get_reference_value(env, d->noop, &fn) != napi_ok || fn == nullptr) return false;
  napi_get_undefined(env, &recv);
  return napi_call_function(env, recv, fn, 0, nullptr, &res) == napi_ok;
}

static void BufferFinalize(napi_env env, void*, void* hint) {
  BufferRecord* b = static_cast<BufferRecord*>(hint);
  Region* r = b->region;
  // Node runs this for every live external buffer when the environment is
  // torn down, whether or not its backing store moved to another thread
  // (transfer() + postMessage): the two look alike (the ArrayBuffer pagewise
  // made is alive and detached by someone else). What the environment's last
  // JS ('exit', regionsSampleEscapes) saw decides; without it (a worker
  // stopped by terminate()), the memory is kept, zero-filled, never unmapped.
  if (!b->detached && b->objectAlive && r->env && !JsCanRun(env, r->env) && (b->escaped || !r->env->sampled)) {
    r->leak = true;
    if (b->escaped) r->keepData = true;
  }
  b->storeAlive = false;
  MaybeDropRecord(env, b);
}

// The ArrayBuffer object pagewise made is collected.
static void ObjectFinalize(napi_env env, void* data, void*) {
  BufferRecord* b = static_cast<BufferRecord*>(data);
  b->objectAlive = false;
  MaybeDropRecord(env, b);
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
  if (reinterpret_cast<uintptr_t>(r->addr) + off == 0) return ThrowInternal(env, "no ArrayBuffer can start at address 0");
  BufferRecord* b = new BufferRecord{r, nullptr, off, len, false, false, false, true, false, nullptr, nullptr, r->buffers};
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
    return ThrowCoded(env, ErrorType::Error, "ERR_PAGEWISE_EXTERNAL_BUFFER",
                      std::string("cannot create an external ArrayBuffer of ") + std::to_string(len) +
                          " bytes: " + (ei && ei->error_message ? ei->error_message : "refused") +
                          " (runtimes with the V8 memory sandbox, such as Electron, forbid external"
                          " ArrayBuffers)");
  }
  napi_create_reference(env, ab, 0, &b->ref);
  // Told when the object is collected: until then something (an in-flight
  // request, a caller) may hold its raw pointer even after it is detached.
  if (napi_add_finalizer(env, ab, b, ObjectFinalize, nullptr, nullptr) == napi_ok) {
    b->objectAlive = true;
  }
  return Napi::Value(env, ab);
}

static void InstallEnvData(Napi::Env env) {
  if (GetEnvData(env)) return;
  EnvData* d = new EnvData{env, nullptr, false};
  napi_set_instance_data(env, d, nullptr, nullptr);
  // Registered after the napi_env's own teardown hook, so it runs before it.
  napi_add_env_cleanup_hook(env, EnvCleanup, d);
  napi_value fn;
  if (napi_create_function(env, "pagewiseNoop", NAPI_AUTO_LENGTH, [](napi_env, napi_callback_info) -> napi_value { return nullptr; },
                           nullptr, &fn) == napi_ok)
    napi_create_reference(env, fn, 1, &d->noop);
}

// regionsSampleEscapes(): records which buffers of this environment escaped
// (detached by someone else while pagewise's ArrayBuffer lives): lib/ calls
// it at a worker's 'exit', the last moment JS runs there.
static Napi::Value RegionsSampleEscapes(const Napi::CallbackInfo& info) {
  EnvData* d = GetEnvData(info.Env());
  if (!d) return info.Env().Undefined();
  int64_t n = 0;
  for (Region* r = d->regions; r; r = r->next)
    for (BufferRecord* b = r->buffers; b; b = b->next)
      if (CheckEscape(d->env, b) && b->storeAlive) {
        r->leak = r->keepData = true;
        n++;
      }
  d->sampled = true;
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// regionsHeld() -> BigUint64Array [start, end, start, end, ...]: the address
// ranges the regions of every environment (main thread and workers) hold
// (mapped, or kept mapped for a buffer that may still reach them), so
// explain() can name pagewise's memory where the kernel cannot. A mapping
// attached in several threads appears once per thread, at the same range.
static Napi::Value RegionsHeld(const Napi::CallbackInfo& info) {
  std::vector<uint64_t> ranges;
  {
    std::lock_guard<std::mutex> lock(g_heldMutex);
    ranges.reserve(2 * g_held->size());
    for (const auto& kv : *g_held) {
      ranges.push_back(kv.second.first);
      ranges.push_back(kv.second.second);
    }
  }
  Napi::BigUint64Array out = Napi::BigUint64Array::New(info.Env(), ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) out[i] = ranges[i];
  return out;
}

void InitRegion(Napi::Env env, Napi::Object exports) {
  InstallEnvData(env);
  exports.Set("regionBuffer", Napi::Function::New(env, RegionBuffer, "regionBuffer"));
  exports.Set("regionsSampleEscapes", Napi::Function::New(env, RegionsSampleEscapes, "regionsSampleEscapes"));
  exports.Set("regionsHeld", Napi::Function::New(env, RegionsHeld, "regionsHeld"));
}

}  // namespace pagewise
