// Experiment probes of the lab addon (lab.h), for lib/experiments/.
//
// cowProbe: forks the calling Node process. The child runs only C code that
// is safe after fork() in a multi-threaded process (getrusage, plain memory
// reads and writes, read, write, _exit: no malloc, no locks), so it is
// single-threaded and RUSAGE_SELF counts exactly its own faults. The parent
// reads its own pagemap while the child is alive and after it has exited.
//
// unmapRemap: munmap + mmap of a sub-range of a Mapping, the "give pages back
// by unmapping and mapping again" pattern. The new mapping uses
// MAP_FIXED_NOREPLACE, so if another thread took the hole in between, it
// fails with EEXIST instead of replacing someone else's memory.
#include "lab.h"
#include "../uapi.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace pagewise {
namespace lab {

namespace {

struct PagemapCounts {
  int64_t present = -1;
  int64_t exclusive = -1;
};

// Counts present and exclusively-mapped (bit 56) pages of [addr, addr+n pages).
PagemapCounts CountPagemap(int fd, uintptr_t addr, uint64_t n, long page) {
  PagemapCounts c;
  if (fd < 0) return c;
  std::vector<uint64_t> entries(n);
  off_t at = static_cast<off_t>((addr / static_cast<uintptr_t>(page)) * 8);
  ssize_t want = static_cast<ssize_t>(n * 8);
  ssize_t got = pread(fd, entries.data(), static_cast<size_t>(want), at);
  if (got != want) return c;
  c.present = 0;
  c.exclusive = 0;
  for (uint64_t e : entries) {
    if (e & uapi::PM_PRESENT) c.present++;
    if (e & (1ull << 56)) c.exclusive++;
  }
  return c;
}

void CloseAll(int* fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

}  // namespace

// cowProbe(address, length, k) -> { childReadFaults, childWriteFaults,
//   childStatus, pages, writes, exclusiveBefore, exclusiveWhileChild,
//   exclusiveAfter, presentBefore, presentWhileChild, presentAfter }
// The child reads every page of the range, then writes one byte to each of
// the first k pages. Pagemap counts are -1 where /proc/self/pagemap is unreadable.
Napi::Value CowProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* at;
  uint64_t len, k;
  if (!LabRange(info, 0, "cowProbe", &at, &len) || !DecodeArgs(info, "cowProbe", 2, &k)) return env.Undefined();
  const long page = static_cast<long>(PageSize());
  uint64_t n = len / static_cast<uint64_t>(page);
  if (k > n) return ThrowInternal(env, "cowProbe: k > pages");
  volatile uint8_t* base = at;
  uintptr_t addr = reinterpret_cast<uintptr_t>(at);

  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  PagemapCounts before = CountPagemap(pm, addr, n, page);
  int up[2] = {-1, -1}, down[2] = {-1, -1};
  if (pipe2(up, O_CLOEXEC) != 0) {
    int e = errno;
    if (pm >= 0) close(pm);
    return ThrowErrno(env, e, "pipe", "cowProbe");
  }
  if (pipe2(down, O_CLOEXEC) != 0) {
    int e = errno;
    CloseAll(up, 2);
    if (pm >= 0) close(pm);
    return ThrowErrno(env, e, "pipe", "cowProbe");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    CloseAll(up, 2);
    CloseAll(down, 2);
    if (pm >= 0) close(pm);
    return ThrowErrno(env, e, "fork", "cowProbe");
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only. Touch every stack variable first
    // (the stack is copy-on-write too), then measure.
    struct rusage ru0, ru1, ru2;
    int64_t result[2] = {0, 0};
    uint64_t sum = 0;
    getrusage(RUSAGE_SELF, &ru0);
    getrusage(RUSAGE_SELF, &ru1);
    getrusage(RUSAGE_SELF, &ru2);
    getrusage(RUSAGE_SELF, &ru0);
    for (uint64_t i = 0; i < n; i++) sum += base[i * static_cast<uint64_t>(page)];
    getrusage(RUSAGE_SELF, &ru1);
    for (uint64_t i = 0; i < k; i++) base[i * static_cast<uint64_t>(page)] = static_cast<uint8_t>(sum + 1);
    getrusage(RUSAGE_SELF, &ru2);
    result[0] = ru1.ru_minflt - ru0.ru_minflt;
    result[1] = ru2.ru_minflt - ru1.ru_minflt;
    if (write(up[1], result, sizeof result) != static_cast<ssize_t>(sizeof result)) _exit(3);
    char c;
    if (read(down[0], &c, 1) < 0) _exit(4);
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  int64_t result[2] = {-1, -1};
  ssize_t got;
  do {
    got = read(up[0], result, sizeof result);
  } while (got < 0 && errno == EINTR);
  PagemapCounts during = CountPagemap(pm, addr, n, page);
  char c = 'x';
  if (write(down[1], &c, 1) != 1) {
    // The child will see EOF on its read and exit anyway.
  }
  close(down[1]);
  close(up[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  PagemapCounts after = CountPagemap(pm, addr, n, page);
  if (pm >= 0) close(pm);

  Napi::Object out = Napi::Object::New(env);
  out.Set("pages", Napi::Number::New(env, static_cast<double>(n)));
  out.Set("writes", Napi::Number::New(env, static_cast<double>(k)));
  out.Set("childReadFaults", Napi::Number::New(env, got == sizeof result ? static_cast<double>(result[0]) : -1));
  out.Set("childWriteFaults", Napi::Number::New(env, got == sizeof result ? static_cast<double>(result[1]) : -1));
  out.Set("childExitCode", Napi::Number::New(env, WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  out.Set("childSignal", Napi::Number::New(env, WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  out.Set("presentBefore", Napi::Number::New(env, static_cast<double>(before.present)));
  out.Set("exclusiveBefore", Napi::Number::New(env, static_cast<double>(before.exclusive)));
  out.Set("presentWhileChild", Napi::Number::New(env, static_cast<double>(during.present)));
  out.Set("exclusiveWhileChild", Napi::Number::New(env, static_cast<double>(during.exclusive)));
  out.Set("presentAfter", Napi::Number::New(env, static_cast<double>(after.present)));
  out.Set("exclusiveAfter", Napi::Number::New(env, static_cast<double>(after.exclusive)));
  return out;
}

// unmapRemap(address, length, extraFlags): munmap the range, then
// mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE|extraFlags)
// at the same address. lib/native-lab.ts detaches the Mapping's ArrayBuffers
// over the range first (this module cannot see them).
Napi::Value UnmapRemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* at;
  uint64_t len;
  int64_t flags;
  if (!LabRange(info, 0, "unmapRemap", &at, &len) || !DecodeArgs(info, "unmapRemap", 2, &flags)) return env.Undefined();
  void* want = at;
  if (munmap(want, len) != 0)
    return ThrowErrno(env, errno, "munmap", "addr=" + Hex(reinterpret_cast<uint64_t>(want)) + ", length=" + std::to_string(len));
  void* p = mmap(want, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | static_cast<int>(flags), -1, 0);
  if (p == MAP_FAILED)
    return ThrowErrno(env, errno, "mmap",
                      "addr=" + Hex(reinterpret_cast<uint64_t>(want)) + ", length=" + std::to_string(len) +
                          ", MAP_FIXED_NOREPLACE (another thread took the hole)");
  if (p != want) {
    munmap(p, len);
    return ThrowErrno(env, EEXIST, "mmap", "MAP_FIXED_NOREPLACE ignored by this kernel");
  }
  return env.Undefined();
}

void InitForkProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("cowProbe", Napi::Function::New(env, CowProbe, "cowProbe"));
  exports.Set("unmapRemap", Napi::Function::New(env, UnmapRemap, "unmapRemap"));
}

}  // namespace lab
}  // namespace pagewise
