// Resizing a Region in place or by moving it (mremap), keeping mapped the
// bytes a live buffer may still reach. Contract in region.h.
#include "region-internal.h"
#include "uapi.h"

#include <sys/mman.h>
#include <cerrno>
#include <string>

namespace pagewise {

// --- resizing (mremap) -------------------------------------------------------------

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
  SyncHeld(g);
  if (g->env) {
    g->next = g->env->regions;
    if (g->next) g->next->prev = g;
    g->env->regions = g;
  }
}

// regionResize(region, newLength, mayMove, shared, tailProt, tailFlags,
// privateAnonRW, file) -> bigint address.
// Shrinks or grows in place with mremap; with mayMove, moves when the next
// range is taken. Never leaves a pointer into unmapped memory: buffers over
// bytes that go away are detached, and memory they may still reach stays
// mapped (a shared mapping's old range keeps its pages; a private one's is
// emptied by MREMAP_DONTUNMAP) until they are gone.
static Napi::Value ResizeHeld(Napi::Env env, Region* r, uint64_t newLen, bool mayMove, bool shared, int64_t tailProt,
                              int64_t tailFlags, bool anonRW, bool file);

static Napi::Value RegionResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = UnwrapRegion(info, 0, true);
  if (!r) return env.Undefined();
  uint64_t newLen;
  bool mayMove, shared, anonRW, file;
  int64_t tailProt, tailFlags;
  if (!DecodeArgs(info, "regionResize", 1, &newLen, &mayMove, &shared, &tailProt, &tailFlags, &anonRW, &file)) return env.Undefined();
  if (newLen == 0) return ThrowInternal(env, "regionResize: bad arguments");
  if (r->sealed) return ThrowErrno(env, EPERM, "mremap", "the mapping is sealed (mseal) for the life of the process");
  if (r->growLimit != 0 && newLen > r->growLimit) {
    // MAP_SHARED|MAP_ANONYMOUS memory is a shmem object of the size it was
    // mapped with: a page past it is a SIGBUS on access, and nothing can grow it.
    return ThrowCoded(env, ErrorType::RangeError, "ERR_OUT_OF_RANGE",
                      "The value of \"length\" is out of range. It must be <= " + std::to_string(r->growLimit) +
                          " (shared anonymous memory keeps the size it was mapped with: a page past it is a SIGBUS; map a "
                          "memfd() and grow it with SharedMemory.resize() for growable shared memory). Received " +
                          std::to_string(newLen));
  }
  // Memory shared with other threads: only its sole holder may resize it,
  // with no attach() in between; the registry then follows its new range.
  Napi::Value result = env.Undefined();
  if (!WithSoleHold(r, [&]() { result = ResizeHeld(env, r, newLen, mayMove, shared, tailProt, tailFlags, anonRW, file); })) {
    ThrowState(env, "cannot resize memory other threads hold (attach() or a SharedArrayBuffer): their views assume its size");
    return env.Undefined();
  }
  return result;
}

static Napi::Value ResizeHeld(Napi::Env env, Region* r, uint64_t newLen, bool mayMove, bool shared, int64_t tailProt,
                              int64_t tailFlags, bool anonRW, bool file) {
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
      int err = anonRW && DontneedZeroes() ? (madvise(tmp.addr, cut, MADV_DONTNEED) == 0 ? 0 : errno) : EINVAL;
      if (err != 0) err = ZeroInPlace(&tmp, 0, cut);
      if (err != 0) return ThrowErrno(env, err, "mmap", what() + " (zero-filling the bytes cut off)");
      Region* g = new Region{r->addr + newLen, cut, false, true, false, false, false, nullptr, 0, 0, r->env, nullptr, nullptr, nullptr};
      SyncHeld(g);
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
      SyncHeld(r);
      return addrOf(r->addr);
    }
    if (mremap(r->addr, oldLen, newLen, 0) == MAP_FAILED) {
      // mremap needs one kernel mapping; a range of several (protection
      // segments, a tail mapped apart) is shrunk by unmapping the end.
      int err = errno;
      if (err != EFAULT || munmap(r->addr + newLen, cut) != 0) return ThrowErrno(env, err, "mremap", what());
    }
    r->length = newLen;
    SyncHeld(r);
    return addrOf(r->addr);
  }
  if (!MapHeadroom(env, 2, "mremap")) return env.Undefined();
  void* p = mremap(r->addr, oldLen, newLen, 0);
  if (p != MAP_FAILED) {
    r->length = newLen;
    SyncHeld(r);
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
    // Grow the moved mapping itself over the rest of the reservation, so it
    // stays one kernel mapping (later resizes work) and a file mapping's tail
    // maps the file, not anonymous memory. Another thread may map into the
    // tail between the two calls: then a private anonymous tail is mapped
    // apart (never over what that thread mapped), a file mapping stays at its
    // old size.
    void* tail = static_cast<uint8_t*>(q) + oldLen;
    munmap(tail, newLen - oldLen);
    int e = 0;
    if (mremap(q, oldLen, newLen, 0) == MAP_FAILED) {
      e = errno;
      if (!file) {
        void* t = mmap(tail, newLen - oldLen, static_cast<int>(tailProt),
                       static_cast<int>(tailFlags) | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (t == tail) e = 0;
        else if (t != MAP_FAILED) munmap(t, newLen - oldLen), e = EEXIST;
        else e = errno;
      }
    }
    GhostOldRange(r);
    if (e != 0) {
      // The pages moved already: keep the mapping at its new place at the old
      // size, and say the growth failed.
      r->addr = static_cast<uint8_t*>(q);
      SyncHeld(r);
      return ThrowErrno(env, e, "mremap", "growing a moved mapping in place (it moved, at its old size)");
    }
  }
  r->addr = static_cast<uint8_t*>(p);
  r->length = newLen;
  SyncHeld(r);
  return addrOf(p);
}

void InitRegionResize(Napi::Env env, Napi::Object exports) {
  exports.Set("regionResize", Napi::Function::New(env, RegionResize, "regionResize"));
}

}  // namespace pagewise
