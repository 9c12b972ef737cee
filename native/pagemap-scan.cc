// ioctl(PAGEMAP_SCAN) on a /proc/PID/pagemap descriptor the caller opened:
// the guard pages of a range (PAGE_IS_GUARD, 6.15) and the runs of pages in
// any categories (6.7; with write-protect reset for write tracking).
// Contract in pagewise.h; the loop in pagemap-scan.h.
#include "args.h"
#include "pagemap-scan.h"

#include <string>
#include <vector>

namespace pagewise {

// pagemapGuardScan(pagemapFd, start: bigint, end: bigint) -> [start0, end0,
// start1, end1, ...] (bigints) of the guard pages in [start, end); or a
// number, the errno, where the kernel does not know the ioctl or the
// category (ScanUnsupported).
static Napi::Value PagemapGuardScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  Address start, end;
  if (!DecodeArgs(info, "pagemapGuardScan", 0, &fd, &start, &end)) return env.Undefined();
  if (end.value < start.value) return ThrowInternal(env, "pagemapGuardScan: bad arguments");
  std::vector<uint64_t> found;
  uapi::page_region vec[256];
  uapi::pm_scan_arg q{};
  q.end = end.value;
  q.category_mask = uapi::PAGE_IS_GUARD;
  q.return_mask = uapi::PAGE_IS_GUARD;
  uint64_t cur = start.value;
  int err = ScanPagemap(static_cast<int>(fd), q, vec, sizeof vec / sizeof vec[0], &cur, [&](const uapi::page_region* v, int n) {
    for (int i = 0; i < n; i++) {
      if (!found.empty() && found.back() == v[i].start) found.back() = v[i].end;
      else { found.push_back(v[i].start); found.push_back(v[i].end); }
    }
  });
  if (err == kScanNoProgress) return ThrowInternal(env, "PAGEMAP_SCAN made no progress");
  if (err != 0 && ScanUnsupported(err)) return Napi::Number::New(env, err);
  if (err != 0) return ThrowErrno(env, err, "ioctl", "PAGEMAP_SCAN (guard pages), " + Hex(cur) + "-" + Hex(end.value));
  Napi::Array out = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::BigInt::New(env, found[i]));
  return out;
}

// pagemapScanRanges(pagemapFd, start: bigint, end: bigint, wpReset: boolean,
// categoryInverted, categoryMask, categoryAnyof, returnMask) -> BigUint64Array
// [start, end, categories, ...] of the matching runs.
// wpReset adds PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC: matching pages
// are write-protected again, and only ranges registered in async mode are
// accepted (the kernel checks), so no write can ever wait.
static Napi::Value PagemapScanRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  Address start, end;
  bool wp;
  uint64_t inv, mask, anyof, ret;
  if (!DecodeArgs(info, "pagemapScanRanges", 0, &fd, &start, &end, &wp, &inv, &mask, &anyof, &ret)) return env.Undefined();
  if (end.value < start.value) return ThrowInternal(env, "pagemapScanRanges: bad arguments");
  std::vector<uint64_t> found;
  uapi::page_region vec[512];
  uapi::pm_scan_arg q{};
  q.flags = wp ? (uapi::PM_SCAN_WP_MATCHING | uapi::PM_SCAN_CHECK_WPASYNC) : 0;
  q.end = end.value;
  q.category_inverted = inv;
  q.category_mask = mask;
  q.category_anyof_mask = anyof;
  q.return_mask = ret;
  uint64_t cur = start.value;
  int err = ScanPagemap(static_cast<int>(fd), q, vec, sizeof vec / sizeof vec[0], &cur, [&](const uapi::page_region* v, int n) {
    for (int i = 0; i < n; i++) {
      if (found.size() >= 3 && found[found.size() - 2] == v[i].start && found.back() == v[i].categories)
        found[found.size() - 2] = v[i].end;
      else { found.push_back(v[i].start); found.push_back(v[i].end); found.push_back(v[i].categories); }
    }
  });
  if (err == kScanNoProgress) return ThrowInternal(env, "PAGEMAP_SCAN made no progress");
  if (err != 0)
    return ThrowErrno(env, err, "ioctl", std::string("PAGEMAP_SCAN") + (wp ? " (write-protect)" : "") + ", " + Hex(cur) + "-" + Hex(end.value));
  Napi::BigUint64Array out = Napi::BigUint64Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); i++) out[i] = found[i];
  return out;
}

void InitPagemapScan(Napi::Env env, Napi::Object exports) {
  exports.Set("pagemapGuardScan", Napi::Function::New(env, PagemapGuardScan, "pagemapGuardScan"));
  exports.Set("pagemapScanRanges", Napi::Function::New(env, PagemapScanRanges, "pagemapScanRanges"));
}

}  // namespace pagewise
