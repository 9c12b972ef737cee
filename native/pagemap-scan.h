// The one ioctl(PAGEMAP_SCAN) loop (Linux 6.7), shared by every caller in
// native/: pagemapScan (measure.cc: residency counts), pagemapGuardScan and
// pagemapScanRanges (pagemap-scan.cc: guard pages, written pages).
#pragma once

#include "uapi.h"

#include <sys/ioctl.h>
#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace pagewise {

// ScanPagemap's result when the kernel's walk did not advance.
constexpr int kScanNoProgress = -1;

// Walks PAGEMAP_SCAN over [*cur, query.end) of the pagemap descriptor `fd`
// with the flags and category masks of `query` (its size, start and vec are
// set here), `vecLen` runs at a time into `vec`; calls visit(vec, n) for each
// batch of n runs. The kernel stops a batch early when `vec` is full and says
// where (walk_end): the walk resumes there, and an interrupted call is
// retried. Returns 0; the errno of a failed call (*cur is where it failed);
// or kScanNoProgress.
template <typename Visit>
inline int ScanPagemap(int fd, const uapi::pm_scan_arg& query, uapi::page_region* vec, size_t vecLen, uint64_t* cur,
                       Visit&& visit) {
  while (*cur < query.end) {
    uapi::pm_scan_arg a = query;
    a.size = sizeof a;
    a.start = *cur;
    a.vec = reinterpret_cast<uint64_t>(vec);
    a.vec_len = vecLen;
    int n = ioctl(fd, uapi::PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    visit(static_cast<const uapi::page_region*>(vec), n);
    if (a.walk_end <= *cur) return kScanNoProgress;
    *cur = a.walk_end;
  }
  return 0;
}

// Whether a ScanPagemap errno means the kernel lacks the ioctl or the
// category asked for (ENOTTY before 6.7, EINVAL for an argument layout or
// category it does not know; ENOSYS from qemu-user, which passes through only
// the ioctls it knows), so the caller can fall back and say why.
inline bool ScanUnsupported(int err) { return err == ENOTTY || err == EINVAL || err == EOPNOTSUPP || err == ENOSYS; }

}  // namespace pagewise
