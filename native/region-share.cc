// Sharing a Region's memory with worker threads (share() and attach()) and
// SharedArrayBuffers over it: the process-wide shared backings. Contract in
// region.h (Backing).
#include "region-internal.h"

#include <sys/mman.h>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pagewise {

// --- shared backings ---------------------------------------------------------
static std::mutex g_backingMutex;
static std::unordered_map<uint64_t, Backing*>* g_backings = new std::unordered_map<uint64_t, Backing*>();  // never freed: used at exit
static uint64_t g_nextBackingId = 1;

// Drops one reference; the last unmaps (unless an escaped buffer may outlive it).
void BackingUnref(Backing* b) {
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

void InitRegionShare(Napi::Env env, Napi::Object exports) {
  exports.Set("regionShare", Napi::Function::New(env, RegionShare, "regionShare"));
  exports.Set("regionAttach", Napi::Function::New(env, RegionAttach, "regionAttach"));
  exports.Set("regionSharedRefs", Napi::Function::New(env, RegionSharedRefs, "regionSharedRefs"));
  exports.Set("regionSharedBuffer", Napi::Function::New(env, RegionSharedBuffer, "regionSharedBuffer"));
  exports.Set("sharedBufferSupported", Napi::Function::New(env, SharedBufferSupported, "sharedBufferSupported"));
}

}  // namespace pagewise
