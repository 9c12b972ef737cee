// Kernel ABI that older system headers lack (Debian 12 ships 6.1 headers):
// every fallback for a kernel constant, system-call number or structure the
// native code uses, in one place. Values from the kernel's uapi headers
// (include/uapi/asm-generic/mman-common.h, linux/mman.h, linux/prctl.h,
// linux/fs.h, linux/userfaultfd.h, linux/memfd.h, linux/fcntl.h and
// Documentation/admin-guide/mm/pagemap.rst); the build machine's own headers
// win where they have the name. Whether the running kernel supports a value
// is asked at run time (madviseProbe, msealProbe, ...). The system-call
// numbers are the asm-generic ones (identical on x86-64 and arm64 from 424
// on). Shared by the core and the lab (lab/*.cc). lib/proc/pagemap.ts is the
// TypeScript counterpart of the pagemap bits.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <cstdint>

// --- mmap, madvise, mlock, mremap flags ---------------------------------------
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000  // 4.17
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08  // 6.11
#endif
#ifndef MADV_FREE
#define MADV_FREE 8  // 4.5
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18  // 4.14
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_COLD
#define MADV_COLD 20  // 5.4
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21  // 5.4
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // 5.14
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // 5.14
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // 6.1
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // 6.13
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103  // 6.13
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01  // 4.4 (mlock2)
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4  // 5.7
#endif
#ifndef RUSAGE_THREAD
#define RUSAGE_THREAD 1
#endif

// --- memfd and file seals -------------------------------------------------------
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#endif
#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif
#ifndef F_SEAL_GROW
#define F_SEAL_GROW 0x0004
#endif
#ifndef F_SEAL_WRITE
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  // 5.1
#endif

// --- prctl ------------------------------------------------------------------------
#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41  // 3.15
#endif
#ifndef PR_GET_THP_DISABLE
#define PR_GET_THP_DISABLE 42
#endif
#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED (1UL << 1)  // 6.18: THP only where MADV_HUGEPAGE asked
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67  // 6.4, CONFIG_KSM
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41  // 5.17, CONFIG_ANON_VMA_NAME
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif

// --- system-call numbers ----------------------------------------------------------
#ifndef __NR_userfaultfd
#if defined(__x86_64__)
#define __NR_userfaultfd 323
#else
#define __NR_userfaultfd 282  // arm64 (asm-generic)
#endif
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434  // 5.3
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise 440  // 5.10
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447  // 5.14
#endif
#ifndef __NR_mseal
#define __NR_mseal 462  // 6.10
#endif

namespace pagewise {
namespace uapi {

// One 64-bit /proc/PID/pagemap entry.
constexpr uint64_t PM_PRESENT = 1ULL << 63;
constexpr uint64_t PM_SWAPPED = 1ULL << 62;
constexpr uint64_t PM_FILE = 1ULL << 61;  // file page or shared anonymous
constexpr uint64_t PM_GUARD_REGION = 1ULL << 58;  // 6.15
constexpr uint64_t PM_EXCLUSIVE = 1ULL << 56;
constexpr uint64_t PM_SOFT_DIRTY = 1ULL << 55;
constexpr uint64_t PM_PFN = (1ULL << 55) - 1;  // bits 0-54 (0 without CAP_SYS_ADMIN)

// ioctl(PAGEMAP_SCAN) on /proc/PID/pagemap (6.7; PAGE_IS_GUARD 6.15).
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
constexpr uint64_t PAGE_IS_WPALLOWED = 1 << 0;
constexpr uint64_t PAGE_IS_WRITTEN = 1 << 1;
constexpr uint64_t PAGE_IS_FILE = 1 << 2;
constexpr uint64_t PAGE_IS_PRESENT = 1 << 3;
constexpr uint64_t PAGE_IS_SWAPPED = 1 << 4;
constexpr uint64_t PAGE_IS_PFNZERO = 1 << 5;
constexpr uint64_t PAGE_IS_HUGE = 1 << 6;
constexpr uint64_t PAGE_IS_SOFT_DIRTY = 1 << 7;
constexpr uint64_t PAGE_IS_GUARD = 1 << 8;  // 6.15
// Flags: write-protect the matching pages again, and accept only ranges
// registered with userfaultfd in async write-protect mode (where the kernel
// resolves each write fault itself and the page reads as PAGE_IS_WRITTEN).
constexpr uint64_t PM_SCAN_WP_MATCHING = 1 << 0;
constexpr uint64_t PM_SCAN_CHECK_WPASYNC = 1 << 1;
constexpr unsigned long PAGEMAP_SCAN = _IOWR('f', 16, struct pm_scan_arg);

// ioctl(PROCMAP_QUERY) on /proc/PID/maps (6.11).
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
constexpr unsigned long PROCMAP_QUERY = 0xC0686611UL;  // _IOWR('f', 17, struct procmap_query)
constexpr uint64_t COVERING_OR_NEXT_VMA = 0x10;        // query_flags
// vma_flags
constexpr uint64_t PROCMAP_QUERY_VMA_READABLE = 0x01;
constexpr uint64_t PROCMAP_QUERY_VMA_WRITABLE = 0x02;
constexpr uint64_t PROCMAP_QUERY_VMA_EXECUTABLE = 0x04;
constexpr uint64_t PROCMAP_QUERY_VMA_SHARED = 0x08;

// userfaultfd (linux/userfaultfd.h; WP_UNPOPULATED 6.4, WP_ASYNC 6.7).
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
