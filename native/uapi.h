// Kernel ABI that older system headers lack (Debian 12 ships 6.1 headers),
// written out once from include/uapi/linux/fs.h and
// Documentation/admin-guide/mm/pagemap.rst: the /proc/PID/pagemap entry bits,
// PAGEMAP_SCAN (6.7; PAGE_IS_GUARD 6.15) and PROCMAP_QUERY (6.11). Shared by
// the core (measure.cc, newmm.cc) and the lab (lab/*.cc). lib/proc/pagemap.ts
// is the TypeScript counterpart of the pagemap bits.
#pragma once

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <cstdint>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000  // 4.17
#endif

namespace pagewise {

namespace uapi {

// madvise advice (include/uapi/asm-generic/mman-common.h).
constexpr int MADV_GUARD_INSTALL = 102;  // 6.13
constexpr int MADV_GUARD_REMOVE = 103;   // 6.13

// One 64-bit /proc/PID/pagemap entry.
constexpr uint64_t PM_PRESENT = 1ULL << 63;
constexpr uint64_t PM_SWAPPED = 1ULL << 62;
constexpr uint64_t PM_FILE = 1ULL << 61;  // file page or shared anonymous
constexpr uint64_t PM_GUARD_REGION = 1ULL << 58;  // 6.15
constexpr uint64_t PM_EXCLUSIVE = 1ULL << 56;
constexpr uint64_t PM_SOFT_DIRTY = 1ULL << 55;
constexpr uint64_t PM_PFN = (1ULL << 55) - 1;  // bits 0-54 (0 without CAP_SYS_ADMIN)

// PAGEMAP_SCAN
struct page_region {
  uint64_t start;
  uint64_t end;
  uint64_t categories;
};
struct pm_scan_arg {
  uint64_t size;
  uint64_t flags;
  uint64_t start;
  uint64_t end;
  uint64_t walk_end;
  uint64_t vec;
  uint64_t vec_len;
  uint64_t max_pages;
  uint64_t category_inverted;
  uint64_t category_mask;
  uint64_t category_anyof_mask;
  uint64_t return_mask;
};
constexpr uint64_t PAGE_IS_FILE = 1 << 2;
constexpr uint64_t PAGE_IS_PRESENT = 1 << 3;
constexpr uint64_t PAGE_IS_SWAPPED = 1 << 4;
constexpr uint64_t PAGE_IS_PFNZERO = 1 << 5;
constexpr uint64_t PAGE_IS_HUGE = 1 << 6;
constexpr uint64_t PAGE_IS_SOFT_DIRTY = 1 << 7;
constexpr uint64_t PAGE_IS_GUARD = 1 << 8;  // 6.15
constexpr unsigned long PAGEMAP_SCAN = _IOWR('f', 16, struct pm_scan_arg);

// PROCMAP_QUERY
struct procmap_query {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(procmap_query) == 104, "struct procmap_query is 104 bytes");
const unsigned long PROCMAP_QUERY = 0xC0686611UL;  // _IOWR('f', 17, struct procmap_query)
const uint64_t COVERING_OR_NEXT_VMA = 0x10;
}  // namespace uapi

}  // namespace pagewise

// --- appended for issue 27 (give memory back) -------------------------------
namespace pagewise {
namespace uapi {
// prctl(PR_SET_THP_DISABLE / PR_GET_THP_DISABLE) (3.15); the flag
// PR_THP_DISABLE_EXCEPT_ADVISED (6.18): THP only where MADV_HUGEPAGE asked.
constexpr int SET_THP_DISABLE = 41;  // PR_SET_THP_DISABLE (names differ: <sys/prctl.h> defines the macros)
constexpr int GET_THP_DISABLE = 42;  // PR_GET_THP_DISABLE
constexpr unsigned long THP_DISABLE_EXCEPT_ADVISED = 1UL << 1;  // PR_THP_DISABLE_EXCEPT_ADVISED
// PAGEMAP_SCAN (6.7) over userfaultfd write-protect in async mode: the kernel
// resolves each write fault itself and the page reads as PAGE_IS_WRITTEN.
constexpr uint64_t PAGE_IS_WPALLOWED = 1 << 0;
constexpr uint64_t PAGE_IS_WRITTEN = 1 << 1;
constexpr uint64_t PM_SCAN_WP_MATCHING = 1 << 0;
constexpr uint64_t PM_SCAN_CHECK_WPASYNC = 1 << 1;
// userfaultfd (linux/userfaultfd.h; WP_UNPOPULATED 6.4, WP_ASYNC 6.7)
constexpr int UFFD_USER_MODE_ONLY = 1;
constexpr uint64_t UFFD_API = 0xAA;
constexpr uint64_t UFFD_FEATURE_WP_UNPOPULATED = 1ULL << 13;
constexpr uint64_t UFFD_FEATURE_WP_ASYNC = 1ULL << 15;
constexpr uint64_t UFFDIO_REGISTER_MODE_WP = 1ULL << 1;
struct uffdio_api {
  uint64_t api;
  uint64_t features;
  uint64_t ioctls;
};
struct uffdio_range {
  uint64_t start;
  uint64_t len;
};
struct uffdio_register {
  uffdio_range range;
  uint64_t mode;
  uint64_t ioctls;
};
constexpr unsigned long UFFDIO_API = _IOWR(0xAA, 0x3F, struct uffdio_api);
constexpr unsigned long UFFDIO_REGISTER = _IOWR(0xAA, 0x00, struct uffdio_register);
constexpr unsigned long UFFDIO_UNREGISTER = _IOR(0xAA, 0x01, struct uffdio_range);
}  // namespace uapi
}  // namespace pagewise
