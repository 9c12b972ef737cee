// Regions: mmap/munmap and the ArrayBuffers over them. Contract in region.h.
#include "region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <dlfcn.h>

namespace pagewise {

// Per-environment (main thread or worker) list of live regions, so that a
// terminating environment unmaps what it owns and drops its references while
// napi_env is still valid.
struct EnvData {
  napi_env env;
  Region* regions = nullptr;
  bool tearingDown = false;
  bool sampled = false;     // regionsSampleEscapes() ran at the environment's 'exit'
  napi_ref noop = nullptr;  // a function: calling it tells whether JS can still run here
};

static const char* kRegionTag = "pagewise.Region";
static napi_type_tag kTag = {0x70616765776973ULL, 0x526567696f6e3031ULL};

// --- vm.max_map_count headroom ---------------------------------------------
// Mappings pagewise may have added since the last exact count, and how many
// it may add before counting again (half the headroom then known). Frees are
// not subtracted: the estimate only errs towards counting early.
static std::atomic<int64_t> g_mapsAdded{0};
static std::atomic<int64_t> g_mapsBudget{0};
static std::mutex g_mapsMutex;

static int64_t ReadMaxMapCount() {
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 65530;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 65530;
  buf[n] = 0;
  long long v = atoll(buf);
  return v > 0 ? v : 65530;
}

// Lines of /proc/self/maps: one per mapping. -1 when it cannot be read.
static int64_t CountMappings() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  static thread_local char buf[1 << 16];
  int64_t lines = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (const char* p = buf; (p = static_cast<const char*>(memchr(p, '\n', buf + n - p))); p++) lines++;
  }
  close(fd);
  return lines;
}

// The margin left for V8 and libc: a sixteenth of the limit, at least
// kMinMapMargin mappings, at most a quarter of the limit (docs/reliability.md).
static constexpr int64_t kMinMapMargin = 4096;  // a count of mappings, not bytes
int64_t MapMargin(int64_t limit) {
  int64_t m = limit / 16 > kMinMapMargin ? limit / 16 : kMinMapMargin;
  return m < limit / 4 ? m : limit / 4;
}

bool MapHeadroom(napi_env env, int64_t adding, const char* syscall) {
  int64_t added = g_mapsAdded.fetch_add(adding, std::memory_order_relaxed) + adding;
  if (added <= g_mapsBudget.load(std::memory_order_relaxed)) return true;
  std::lock_guard<std::mutex> lock(g_mapsMutex);
  int64_t count = CountMappings();
  if (count < 0) return true;  // no /proc: the kernel's own ENOMEM stays the limit
  int64_t limit = ReadMaxMapCount();
  int64_t margin = MapMargin(limit);
  int64_t free = limit - margin - count;
  if (free < adding) {
    g_mapsAdded.store(0, std::memory_order_relaxed);
    g_mapsBudget.store(0, std::memory_order_relaxed);
    std::string what = "the process has " + std::to_string(count) + " mappings; vm.max_map_count is " +
                       std::to_string(limit) + " and pagewise keeps the last " + std::to_string(margin) +
                       " for V8 and libc (raise it with sysctl vm.max_map_count=N, or unmap explicitly: " +
                       "mappings dropped without unmap() are freed only when the event loop turns)";
    Napi::Error e = Napi::Error::New(Napi::Env(env), std::string("ENOMEM: ") + syscall + " refused: " + what);
    e.Set("code", Napi::String::New(env, "ENOMEM"));
    e.Set("errno", Napi::Number::New(env, -ENOMEM));
    e.Set("syscall", Napi::String::New(env, syscall));
    e.ThrowAsJavaScriptException();
    return false;
  }
  g_mapsAdded.store(adding, std::memory_order_relaxed);
  g_mapsBudget.store(free / 2 > adding ? free / 2 : adding, std::memory_order_relaxed);
  return true;
}

// mapHeadroom() -> { count, limit, margin }: the exact figures (tests, docs).
static Napi::Value MapHeadroomInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int64_t limit = ReadMaxMapCount();
  o.Set("count", Napi::Number::New(env, static_cast<double>(CountMappings())));
  o.Set("limit", Napi::Number::New(env, static_cast<double>(limit)));
  o.Set("margin", Napi::Number::New(env, static_cast<double>(MapMargin(limit))));
  return o;
}

napi_value ThrowState(napi_env env, const std::string& message) {
  // A TypeError with ERR_INVALID_STATE, as lib/validate.ts's invalidState().
  Napi::TypeError e = Napi::TypeError::New(Napi::Env(env), message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_STATE"));
  e.ThrowAsJavaScriptException();
  return nullptr;
}

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
static bool DontneedZeroes() {
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

// --- shared backings ---------------------------------------------------------
static std::mutex g_backingMutex;
static std::unordered_map<uint64_t, Backing*>* g_backings = new std::unordered_map<uint64_t, Backing*>();  // never freed: used at exit
static uint64_t g_nextBackingId = 1;

// Drops one reference; the last unmaps (unless an escaped buffer may outlive it).
static void BackingUnref(Backing* b) {
  bool last;
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    last = --b->refs == 0;
    if (last) g_backings->erase(b->id);
  }
  if (last) {
    if (!b->leak) munmap(b->addr, b->length);
    delete b;
  }
}

static int64_t BackingRefs(Backing* b) {
  std::lock_guard<std::mutex> lock(g_backingMutex);
  return b->refs;
}

// Whether other threads (or SharedArrayBuffers) still use the region's memory.
bool SharedElsewhere(Region* r) {
  return r->backing != nullptr && BackingRefs(r->backing) > 1;
}

// Gives the address range back: munmap, or one reference of a shared backing.
static void ReleaseMemory(Region* r) {
  if (!r->held) return;
  r->held = false;
  if (r->backing) {
    Backing* b = r->backing;
    r->backing = nullptr;
    if (r->leak) b->leak = true;
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

// Whether the memory of `b` is held by an ArrayBuffer pagewise did not make:
// its backing store lives while the ArrayBuffer object pagewise made (still
// reachable) was detached by someone else: transfer(), postMessage. Once
// seen, it stays escaped until the backing store is freed. An object already
// collected whose finalizers have not run yet cannot be told apart from an
// ordinary collection: it counts as not escaped (docs/reliability.md), except
// at teardown (Teardown* below), which keeps such memory mapped.
static bool CheckEscape(napi_env env, BufferRecord* b) {
  if (b->escaped) return true;
  if (b->detached || !b->storeAlive) return false;
  napi_value ab = nullptr;
  if (b->ref) napi_get_reference_value(env, b->ref, &ab);
  if (ab == nullptr) return false;
  bool det = false;
  napi_is_detached_arraybuffer(env, ab, &det);
  if (det) b->escaped = true;
  return b->escaped;
}

// At teardown: escaped, or collected with the backing store not known freed.
static bool MayOutlive(napi_env env, BufferRecord* b) {
  if (CheckEscape(env, b)) return true;
  if (b->detached || !b->storeAlive) return false;
  napi_value ab = nullptr;
  if (b->ref) napi_get_reference_value(env, b->ref, &ab);
  return ab == nullptr;
}

static bool Overlaps(Region* r, BufferRecord* b, uint64_t offset, uint64_t length) {
  return (offset == 0 && length == r->length) || (b->offset < offset + length && offset < b->offset + b->length);
}

bool RangeEscaped(napi_env env, Region* r, uint64_t offset, uint64_t length) {
  bool any = false;
  for (BufferRecord* b = r->buffers; b; b = b->next)
    if (Overlaps(r, b, offset, length) && CheckEscape(env, b)) any = true;
  return any;
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

static EnvData* GetEnvData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvData*>(data);
}

static Napi::Value NewRegionHandleOver(Napi::Env env, void* addr, uint64_t length, int64_t report, Backing* backing);

static void RegionHandleFinalize(napi_env env, void* data, void*) {
  Release(env, static_cast<Region*>(data));
}

Napi::Value NewRegionHandle(Napi::Env env, void* addr, uint64_t length, int64_t report) {
  return NewRegionHandleOver(env, addr, length, report, nullptr);
}

// A region over `addr`; with `backing`, one reference of it already taken.
static Napi::Value NewRegionHandleOver(Napi::Env env, void* addr, uint64_t length, int64_t report, Backing* backing) {
  Region* r = new Region{static_cast<uint8_t*>(addr), length, true, true, false, false, false, backing, 1, 0, GetEnvData(env),
                         nullptr, nullptr, nullptr};
  if (r->env) {
    r->next = r->env->regions;
    if (r->next) r->next->prev = r;
    r->env->regions = r;
  }
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

static int ProtFromArgs(int64_t prot) { return static_cast<int>(prot); }

// mmap(length, prot, flags, fd, offset, hint: bigint | 0n, report) -> Region
static Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length, offset;
  Address at;
  int64_t prot, flags, fd, report;
  if (!DecodeArgs(info, "mmap", 0, &length, &prot, &flags, &fd, &offset, &at, &report)) return env.Undefined();
  const uint64_t hint = at.value;
  void* want = reinterpret_cast<void*>(hint);
  if (!MapHeadroom(env, 1, "mmap")) return env.Undefined();
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
    std::string w = what();
    if (err == ENOMEM && (flags & MAP_HUGETLB))
      w += "; MAP_HUGETLB: no free huge pages of that size in the pool: reserve some with"
           " sysctl vm.nr_hugepages=N (or /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages)";
    return ThrowErrno(env, err, "mmap", w);
  }
  if (p == nullptr) {
    // Page 0 (root may map it): no ArrayBuffer can point there.
    munmap(p, length);
    return ThrowErrno(env, EINVAL, "mmap", what() + "; the kernel placed it at address 0, which pagewise refuses");
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

// munmap(region, privateAnonRW?) -> number of ArrayBuffers detached. Idempotent.
static Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return env.Undefined();
  if (!r->mapped) return Napi::Number::New(env, 0);
  if (r->sealed)
    return ThrowErrno(env, EPERM, "munmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", length=" + std::to_string(r->length) +
                          ": the mapping is sealed (mseal) for the life of the process");
  size_t n = DetachRange(env, r, 0, r->length);
  if (SharedElsewhere(r)) {
    // Other threads use this memory: it stays as it is for them; this
    // thread's hold is given back when its last buffer is gone (now, if none).
    if (!RangeBusy(r, 0, r->length)) ReleaseMemory(r);
  } else if (RangeBusy(r, 0, r->length)) {
    // Something may still hold a pointer in (an escaped or in-flight buffer):
    // fresh zero pages in place now, the range itself at the last release.
    // For private anonymous memory that is read-write throughout (lib/ says
    // so: argument 1), MADV_DONTNEED gives the same zero pages in the same
    // mapping, cheaper than a new one.
    bool byAdvice = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value() && DontneedZeroes();
    int err = byAdvice ? (madvise(r->addr, r->length, MADV_DONTNEED) == 0 ? 0 : errno) : EINVAL;
    if (err != 0) err = ZeroInPlace(r, 0, r->length);
    if (err != 0)
      return ThrowErrno(env, err, "mmap", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", length=" +
                                              std::to_string(r->length) +
                                              ", MAP_FIXED (zero-filling an unmapped range whose buffers are still alive)");
  } else if (r->backing) {
    ReleaseMemory(r);
  } else {
    if (munmap(r->addr, r->length) != 0)
      return ThrowErrno(env, errno, "munmap", "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) +
                                                  ", length=" + std::to_string(r->length));
    r->held = false;
  }
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
  if (reinterpret_cast<uintptr_t>(r->addr) + off == 0) return ThrowInternal(env, "no ArrayBuffer can start at address 0");
  BufferRecord* b = new BufferRecord{r, nullptr, off, len, false, false, true, false, nullptr, nullptr, r->buffers};
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
  // Told when the object is collected: until then something (an in-flight
  // request, a caller) may hold its raw pointer even after it is detached.
  if (napi_add_finalizer(env, ab, b, ObjectFinalize, nullptr, nullptr) == napi_ok) {
    b->objectAlive = true;
  }
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
  napi_value ab = info[0];
  void* data = nullptr;
  size_t len = 0;
  napi_get_arraybuffer_info(env, ab, &data, &len);
  napi_detach_arraybuffer(env, ab);
  // Record that pagewise detached it (else it would look escaped: detached by
  // someone else while its object lives).
  EnvData* d = GetEnvData(env);
  uint8_t* p = static_cast<uint8_t*>(data);
  for (Region* r = d ? d->regions : nullptr; p && r; r = r->next) {
    if (p < r->addr || p >= r->addr + r->length) continue;
    uint64_t off = static_cast<uint64_t>(p - r->addr);
    for (BufferRecord* b = r->buffers; b; b = b->next) {
      if (b->detached || b->offset != off || b->length != len || !b->ref) continue;
      napi_value v = nullptr;
      bool same = false;
      napi_get_reference_value(env, b->ref, &v);
      if (v) napi_strict_equals(env, v, ab, &same);
      if (same) {
        b->detached = true;
        break;
      }
    }
    break;
  }
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
  if (!DecodeArgs(info, "regionRemap", 3, &prot, &flags)) return env.Undefined();
  DetachRange(env, r, off, len);
  // Memory a live or escaped buffer may still point to keeps read-write
  // (zero) pages instead of the protection asked for. Returns whether the
  // protection asked for is in place.
  bool keepWritable = !(prot & PROT_WRITE) && RangeBusy(r, off, len);
  if (!MapHeadroom(env, 2, "mmap")) return env.Undefined();
  void* want = r->addr + off;
  void* p = mmap(want, len, keepWritable ? PROT_READ | PROT_WRITE : static_cast<int>(prot),
                 static_cast<int>(flags) | (keepWritable ? MAP_NORESERVE : 0) | MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(want)) + ", length=" +
                          std::to_string(len) + ", prot=" + std::to_string(prot) + ", MAP_FIXED");
  return Napi::Boolean::New(env, !keepWritable);
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

// --- sharing with worker threads ----------------------------------------------

static Backing* EnsureBacking(Region* r) {
  std::lock_guard<std::mutex> lock(g_backingMutex);
  if (!r->backing) {
    Backing* b = new Backing{r->addr, r->length, 1, g_nextBackingId++, false};
    (*g_backings)[b->id] = b;
    r->backing = b;
  }
  return r->backing;
}

// regionShare(region) -> bigint id: the memory becomes a shared backing that
// attach(id) in any thread of this process can map (no reference is taken:
// attaching after the last holder let go fails).
static Napi::Value RegionShare(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return info.Env().Undefined();
  return Napi::BigInt::New(info.Env(), EnsureBacking(r)->id);
}

// regionAttach(id) -> Region over the shared memory, or throws
// ERR_INVALID_STATE when nothing holds it any more.
static Napi::Value RegionAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id;
  if (!GetBigAddr(info, 0, &id)) return ThrowInternal(env, "regionAttach: bad id");
  Backing* b = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    auto it = g_backings->find(id);
    if (it != g_backings->end() && it->second->refs > 0) {
      b = it->second;
      b->refs++;
    }
  }
  if (!b) {
    ThrowState(env, "the shared mapping is gone: every thread that held it has unmapped it (attach() before the sender unmaps)");
    return env.Undefined();
  }
  return NewRegionHandleOver(env, b->addr, b->length, 0, b);
}

// regionSharedRefs(region) -> number of holders (regions and SharedArrayBuffers), 0 if not shared.
static Napi::Value RegionSharedRefs(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), r->backing ? static_cast<double>(BackingRefs(r->backing)) : 0);
}

// node_api_create_external_sharedarraybuffer (Node 22.21+, 24.16+, 26.1+;
// experimental): looked up at run time so one binary loads everywhere.
typedef void (*NoEnvFinalize)(void* data, void* hint);
typedef napi_status (*CreateExternalSab)(napi_env, void*, size_t, NoEnvFinalize, void*, napi_value*);
static CreateExternalSab SabCreator() {
  static const CreateExternalSab fn =
      reinterpret_cast<CreateExternalSab>(dlsym(RTLD_DEFAULT, "node_api_create_external_sharedarraybuffer"));
  return fn;
}

static void SabFinalize(void*, void* hint) { BackingUnref(static_cast<Backing*>(hint)); }

// sharedBufferSupported() -> bool
static Napi::Value SharedBufferSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SabCreator() != nullptr);
}

// regionSharedBuffer(region) -> SharedArrayBuffer over the whole region (it
// holds the memory until it is collected, in whichever thread), or undefined
// where the runtime cannot make one.
static Napi::Value RegionSharedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  CreateExternalSab create = SabCreator();
  if (!create) return env.Undefined();
  if (reinterpret_cast<uintptr_t>(r->addr) == 0) return ThrowInternal(env, "no buffer can start at address 0");
  Backing* b = EnsureBacking(r);
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    b->refs++;
  }
  napi_value sab;
  napi_status st = create(env, b->addr, b->length, SabFinalize, b, &sab);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    // Whether the finalizer was registered is not known for every status: a
    // leaked reference (the memory stays mapped) beats a double release.
    if (st == napi_invalid_arg || st == napi_no_external_buffers_allowed) BackingUnref(b);
    if (pending) return env.Undefined();
    Napi::Error e = Napi::Error::New(env, "cannot create an external SharedArrayBuffer (status " + std::to_string(st) + ")");
    e.Set("code", Napi::String::New(env, "ERR_PAGEWISE_EXTERNAL_BUFFER"));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Value(env, sab);
}

// --- resizing (mremap) -------------------------------------------------------------

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

// Hands every buffer record of `r` to a new region over its old range, which
// stays mapped (zero pages or the same shared pages) until they are gone.
static void GhostOldRange(Region* r) {
  Region* g = new Region{r->addr, r->length, false, true, false, false, false, nullptr, 0, 0, r->env, nullptr, nullptr, nullptr};
  for (BufferRecord* b = r->buffers; b; b = b->next) {
    b->region = g;
    g->refs++;
    r->refs--;
  }
  g->buffers = r->buffers;
  r->buffers = nullptr;
  if (g->env) {
    g->next = g->env->regions;
    if (g->next) g->next->prev = g;
    g->env->regions = g;
  }
}

// regionResize(region, newLength, mayMove, shared, tailProt, tailFlags) -> bigint address.
// Shrinks or grows in place with mremap; with mayMove, moves when the next
// range is taken. Never leaves a pointer into unmapped memory: buffers over
// bytes that go away are detached, and memory they may still reach stays
// mapped (a shared mapping's old range keeps its pages; a private one's is
// emptied by MREMAP_DONTUNMAP) until they are gone.
static Napi::Value RegionResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  uint64_t newLen;
  int64_t tailProt, tailFlags;
  if (!GetU64(info, 1, &newLen) || newLen == 0 || info.Length() < 6 || !info[2].IsBoolean() || !info[3].IsBoolean() ||
      !GetI64(info, 4, &tailProt) || !GetI64(info, 5, &tailFlags))
    return ThrowInternal(env, "regionResize: bad arguments");
  bool mayMove = info[2].As<Napi::Boolean>().Value();
  bool shared = info[3].As<Napi::Boolean>().Value();
  if (r->sealed) return ThrowErrno(env, EPERM, "mremap", "the mapping is sealed (mseal) for the life of the process");
  if (r->backing) {
    ThrowState(env, "cannot resize memory shared with other threads (share()/attach() or a SharedArrayBuffer)");
    return env.Undefined();
  }
  uint64_t oldLen = r->length;
  auto addrOf = [&](void* p) { return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))); };
  auto what = [&]() {
    return "addr=" + Hex(reinterpret_cast<uint64_t>(r->addr)) + ", old_size=" + std::to_string(oldLen) +
           ", new_size=" + std::to_string(newLen);
  };
  if (newLen == oldLen) return addrOf(r->addr);
  if (newLen < oldLen) {
    uint64_t cut = oldLen - newLen;
    DetachRange(env, r, newLen, cut);
    if (RangeBusy(r, newLen, cut)) {
      // A buffer that may still be alive reaches the bytes being cut off: they
      // become zero pages held by a region of their own, unmapped when the
      // last such buffer is gone.
      for (BufferRecord* b = r->buffers; b; b = b->next)
        if (b->offset + b->length > newLen && b->pin) {
          ThrowState(env, "cannot shrink again while a buffer over bytes cut off before may still be in use (drop it, "
                          "let the event loop turn, and retry)");
          return env.Undefined();
        }
      Region tmp = *r;
      tmp.addr = r->addr + newLen;
      tmp.length = cut;
      bool anonRW = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
      int err = anonRW && DontneedZeroes() ? (madvise(tmp.addr, cut, MADV_DONTNEED) == 0 ? 0 : errno) : EINVAL;
      if (err != 0) err = ZeroInPlace(&tmp, 0, cut);
      if (err != 0) return ThrowErrno(env, err, "mmap", what() + " (zero-filling the bytes cut off)");
      Region* g = new Region{r->addr + newLen, cut, false, true, false, false, false, nullptr, 0, 0, r->env, nullptr, nullptr, nullptr};
      for (BufferRecord* b = r->buffers; b; b = b->next)
        if (b->offset + b->length > newLen) {
          b->pin = g;
          g->refs++;
        }
      if (g->env) {
        g->next = g->env->regions;
        if (g->next) g->next->prev = g;
        g->env->regions = g;
      }
      r->length = newLen;
      return addrOf(r->addr);
    }
    if (mremap(r->addr, oldLen, newLen, 0) == MAP_FAILED) return ThrowErrno(env, errno, "mremap", what());
    r->length = newLen;
    return addrOf(r->addr);
  }
  if (!MapHeadroom(env, 2, "mremap")) return env.Undefined();
  void* p = mremap(r->addr, oldLen, newLen, 0);
  if (p != MAP_FAILED) {
    r->length = newLen;
    return addrOf(r->addr);
  }
  int err = errno;
  if (err != ENOMEM || !mayMove)
    return ThrowErrno(env, err, "mremap",
                      what() + (err == ENOMEM ? " (in place: the next range is taken; pass { mayMove: true } to move)" : ""));
  DetachRange(env, r, 0, oldLen);
  if (!RangeBusy(r, 0, oldLen)) {
    p = mremap(r->addr, oldLen, newLen, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return ThrowErrno(env, errno, "mremap", what() + ", MREMAP_MAYMOVE");
  } else if (shared) {
    // old_size 0 on a shared mapping: a second mapping of the same pages;
    // the old one stays for the buffers that may still reach it.
    p = mremap(r->addr, 0, newLen, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return ThrowErrno(env, errno, "mremap", what() + ", old_size=0, MREMAP_MAYMOVE");
    GhostOldRange(r);
  } else {
    // Private memory: move the pages into a new reservation and leave the old
    // range mapped and empty (MREMAP_DONTUNMAP, Linux 5.7+), then map the tail.
    void* q = mmap(nullptr, newLen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (q == MAP_FAILED) return ThrowErrno(env, errno, "mmap", "a reservation of " + std::to_string(newLen) + " bytes to move into");
    p = mremap(r->addr, oldLen, oldLen, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, q);
    if (p == MAP_FAILED) {
      int e = errno;
      munmap(q, newLen);
      if (e == EINVAL) {
        ThrowState(env, "cannot move: a buffer over the mapping may still be in use and this kernel has no "
                        "MREMAP_DONTUNMAP for it (Linux 5.7+ for private anonymous memory); drop it, let the event "
                        "loop turn, and retry");
        return env.Undefined();
      }
      return ThrowErrno(env, e, "mremap", what() + ", MREMAP_DONTUNMAP");
    }
    void* tail = static_cast<uint8_t*>(q) + oldLen;
    if (mmap(tail, newLen - oldLen, static_cast<int>(tailProt),
             static_cast<int>(tailFlags) | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
      // The pages moved already: keep the mapping at its new place at the old
      // size, and say the growth failed.
      int e = errno;
      munmap(tail, newLen - oldLen);
      GhostOldRange(r);
      r->addr = static_cast<uint8_t*>(q);
      return ThrowErrno(env, e, "mmap", "the grown tail of a moved mapping (it moved, at its old size)");
    }
    GhostOldRange(r);
  }
  r->addr = static_cast<uint8_t*>(p);
  r->length = newLen;
  return addrOf(p);
}

// regionEscaped(region, offset, length) -> bool: whether a buffer over the
// range escaped (transfer()): write access must not be taken away.
static Napi::Value RegionEscaped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t off, len;
  Region* r = RegionRange(info, 0, &off, &len);
  if (!r) return env.Undefined();
  return Napi::Boolean::New(env, RangeEscaped(env, r, off, len));
}

// unsafeMmapFixed(addr, length, prot, flags, fd, offset) -> Region. MAP_FIXED
// at a caller's address replaces whatever was there (heap, code, V8's own
// memory): only for the unsafe export.
static Napi::Value UnsafeMmapFixed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address at;
  uint64_t length, offset;
  int64_t prot, flags, fd;
  if (!DecodeArgs(info, "unsafeMmapFixed", 0, &at, &length, &prot, &flags, &fd, &offset)) return env.Undefined();
  const uint64_t addr = at.value;
  if (!MapHeadroom(env, 2, "mmap")) return env.Undefined();
  void* p = mmap(reinterpret_cast<void*>(addr), length, static_cast<int>(prot),
                 static_cast<int>(flags) | MAP_FIXED, static_cast<int>(fd), static_cast<off_t>(offset));
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(addr) + ", length=" + std::to_string(length) + ", MAP_FIXED");
  return NewRegionHandle(env, p, length, 0);
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
// ranges this environment's regions hold (mapped, or kept mapped for a buffer
// that may still reach them), so explain() can name pagewise's memory where
// the kernel cannot. Overlaps none: each range belongs to one region.
static Napi::Value RegionsHeld(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* d = GetEnvData(env);
  size_t n = 0;
  for (Region* r = d ? d->regions : nullptr; r; r = r->next)
    if (r->held && r->addr != nullptr && r->length > 0) n++;
  Napi::BigUint64Array out = Napi::BigUint64Array::New(env, 2 * n);
  size_t i = 0;
  for (Region* r = d ? d->regions : nullptr; r && i < 2 * n; r = r->next)
    if (r->held && r->addr != nullptr && r->length > 0) {
      out[i++] = reinterpret_cast<uint64_t>(r->addr);
      out[i++] = reinterpret_cast<uint64_t>(r->addr) + r->length;
    }
  return out;
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
  exports.Set("mapHeadroom", Napi::Function::New(env, MapHeadroomInfo, "mapHeadroom"));
  exports.Set("regionsSampleEscapes", Napi::Function::New(env, RegionsSampleEscapes, "regionsSampleEscapes"));
  exports.Set("regionsHeld", Napi::Function::New(env, RegionsHeld, "regionsHeld"));
  exports.Set("regionShare", Napi::Function::New(env, RegionShare, "regionShare"));
  exports.Set("regionResize", Napi::Function::New(env, RegionResize, "regionResize"));
  exports.Set("regionAttach", Napi::Function::New(env, RegionAttach, "regionAttach"));
  exports.Set("regionSharedRefs", Napi::Function::New(env, RegionSharedRefs, "regionSharedRefs"));
  exports.Set("regionSharedBuffer", Napi::Function::New(env, RegionSharedBuffer, "regionSharedBuffer"));
  exports.Set("sharedBufferSupported", Napi::Function::New(env, SharedBufferSupported, "sharedBufferSupported"));
  exports.Set("regionEscaped", Napi::Function::New(env, RegionEscaped, "regionEscaped"));
}

}  // namespace pagewise
