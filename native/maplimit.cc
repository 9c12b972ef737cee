// Headroom under vm.max_map_count: MapHeadroom (region.h), which the calls
// that may add mappings ask first so that V8 and libc keep a margin, and
// mapHeadroom(), its exact figures.
#include "region.h"

#include <fcntl.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace pagewise {

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
    ThrowRefused(Napi::Env(env), ENOMEM, syscall, what);
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

void InitMapLimit(Napi::Env env, Napi::Object exports) {
  exports.Set("mapHeadroom", Napi::Function::New(env, MapHeadroomInfo, "mapHeadroom"));
}

}  // namespace pagewise
