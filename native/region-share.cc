// Sharing a Region's memory with worker threads (share() and attach()) and
// SharedArrayBuffers over it: the process-wide shared backings. Contract in
// region.h (Backing).
#include "region-internal.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <dlfcn.h>
#include <cerrno>
#include <mutex>
#include <string>
#include <functional>
#include <unordered_map>

namespace pagewise {

// --- shared backings ---------------------------------------------------------
static std::mutex g_backingMutex;
static std::unordered_map<uint64_t, Backing*>* g_backings = new std::unordered_map<uint64_t, Backing*>();  // never freed: used at exit

// A random id no other backing of this process has (never 0): a token cannot
// be guessed, and one printed by another process names nothing here.
static uint64_t NewBackingId() {
  for (;;) {
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != sizeof id) {
      // No getrandom (seccomp, very old kernel): the address and a counter.
      static uint64_t counter = 0;
      id = (reinterpret_cast<uint64_t>(&counter) * 0x9e3779b97f4a7c15ULL) ^ (++counter << 17) ^ static_cast<uint64_t>(getpid());
    }
    id &= (1ULL << 62) - 1;
    if (id != 0 && g_backings->find(id) == g_backings->end()) return id;
  }
}

// Drops one reference; the last unmaps, unless a buffer that escaped may
// outlive it: then the range stays mapped, with its bytes when the buffer is
// known to have moved to another thread, else as fresh zero pages (a worker
// stopped by terminate() cannot say which of its buffers moved: no memory is
// kept for it).
void BackingUnref(Backing* b) {
  bool last;
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    last = --b->refs == 0;
    if (last) g_backings->erase(b->id);
  }
  if (last) {
    if (!b->leak) munmap(b->addr, b->length);
    else if (!b->keepData)
      mmap(b->addr, b->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
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

bool LowerAllowed(Region* r) {
  if (!r->backing) return true;
  std::lock_guard<std::mutex> lock(g_backingMutex);
  if (r->backing->refs > 1) return false;
  r->backing->attachable = false;
  return true;
}

bool GiveUpAllowed(Region* r) {
  if (!r->backing) return true;
  std::lock_guard<std::mutex> lock(g_backingMutex);
  if (r->backing->refs > 1) return false;
  r->backing->closed = true;
  return true;
}

// --- sharing with worker threads ----------------------------------------------

static Backing* EnsureBackingLocked(Region* r) {
  if (!r->backing) {
    Backing* b = new Backing{r->addr, r->length, 1, NewBackingId(), false};
    b->growLimit = r->growLimit;
    (*g_backings)[b->id] = b;
    r->backing = b;
  }
  return r->backing;
}

static Backing* EnsureBacking(Region* r) {
  std::lock_guard<std::mutex> lock(g_backingMutex);
  return EnsureBackingLocked(r);
}

// regionShare(region, kind, pageSize) -> bigint id: the memory becomes a
// shared backing that attach in any thread of this process can map (no
// reference is taken: attaching after the last holder let go fails). lib/
// calls it only over memory that is read-write throughout with no guard
// pages, so the entry becomes attachable again; `kind` and `pageSize` are
// what the token carries, checked by attach.
static Napi::Value RegionShare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  uint64_t kind, page;
  if (!DecodeArgs(info, "regionShare", 1, &kind, &page)) return env.Undefined();
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    Backing* b = EnsureBackingLocked(r);
    b->attachable = true;
    b->kind = static_cast<uint32_t>(kind);
    b->pageSize = page;
    id = b->id;
  }
  return Napi::BigInt::New(env, id);
}

// regionAttach(id, length, kind, pageSize) -> Region over the shared memory.
// Every field of the token is checked against the registry entry: an id
// nothing here has, or memory given up by every holder, is ERR_INVALID_STATE
// "gone"; memory whose protection was lowered or that was guarded since
// share() is ERR_INVALID_STATE; a token whose other fields differ (forged, or
// made before a resize) is ERR_INVALID_ARG_VALUE.
static Napi::Value RegionAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address token;
  uint64_t length, kind, page;
  if (!DecodeArgs(info, "regionAttach", 0, &token, &length, &kind, &page)) return env.Undefined();
  const uint64_t id = token.value;
  Backing* b = nullptr;
  const char* refusal = nullptr;
  bool mismatch = false;
  {
    std::lock_guard<std::mutex> lock(g_backingMutex);
    auto it = g_backings->find(id);
    if (it == g_backings->end() || it->second->refs <= 0 || it->second->closed) {
      refusal = "the shared mapping is gone: every thread that held it has unmapped it (attach() before the sender unmaps)";
    } else if (!it->second->attachable) {
      refusal = "the shared mapping is no longer read-write throughout: its protection was lowered or guard pages were "
                "installed after share(); call share() again once it is read-write throughout";
    } else if (it->second->length != length || it->second->kind != kind || it->second->pageSize != page) {
      mismatch = true;
    } else {
      b = it->second;
      b->refs++;
    }
  }
  if (mismatch) {
    return ThrowCoded(env, ErrorType::TypeError, "ERR_INVALID_ARG_VALUE",
                      "The share token does not match the shared mapping it names (its length, page size or kind differ: "
                      "the mapping was resized after share(), or the token was altered); call share() again");
  }
  if (!b) {
    ThrowState(env, refusal);
    return env.Undefined();
  }
  return NewRegionHandleOver(env, b->addr, b->length, 0, b, b->growLimit);
}

// regionSharedRefs(region) -> number of holders (regions and SharedArrayBuffers), 0 if not shared.
static Napi::Value RegionSharedRefs(const Napi::CallbackInfo& info) {
  Region* r = UnwrapRegion(info, 0, false);
  if (!r) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), r->backing ? static_cast<double>(BackingRefs(r->backing)) : 0);
}

// Under the registry's lock, runs `fn` while `r` is the only holder of its
// memory (true), or returns false when another holder exists. For resize():
// no attach() can start between the check and the change, and the entry
// follows the memory's new address and length.
bool WithSoleHold(Region* r, const std::function<void()>& fn) {
  if (!r->backing) {
    fn();
    return true;
  }
  std::lock_guard<std::mutex> lock(g_backingMutex);
  if (r->backing->refs > 1) return false;
  fn();
  r->backing->addr = r->addr;
  r->backing->length = r->length;
  return true;
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
    return ThrowCoded(env, ErrorType::Error, "ERR_PAGEWISE_EXTERNAL_BUFFER",
                      "cannot create an external SharedArrayBuffer (status " + std::to_string(st) + ")");
  }
  return Napi::Value(env, sab);
}

void InitRegionShare(Napi::Env env, Napi::Object exports) {
  exports.Set("regionShare", Napi::Function::New(env, RegionShare, "regionShare"));
  exports.Set("regionAttach", Napi::Function::New(env, RegionAttach, "regionAttach"));
  exports.Set("regionSharedRefs", Napi::Function::New(env, RegionSharedRefs, "regionSharedRefs"));
  exports.Set("regionSharedBuffer", Napi::Function::New(env, RegionSharedBuffer, "regionSharedBuffer"));
  exports.Set("sharedBufferSupported", Napi::Function::New(env, SharedBufferSupported, "sharedBufferSupported"));
}

}  // namespace pagewise
