// Kernel ABI structs and ioctl numbers that older system headers lack,
// written out from include/uapi/linux/fs.h (Linux 6.11+: PROCMAP_QUERY).
// Shared by the core (newmm.cc) and the lab (lab/cbench.cc).
#pragma once

#include <cstdint>

namespace pagewise {

namespace uapi {
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
