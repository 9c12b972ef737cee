// Zero-fill-on-demand, MADV_DONTNEED and detach-on-unmap, with exact numbers.
// Run: npm run build:ts && node dist/examples/mmap-basics.js
import { mmap, pageSize, getrusage } from 'pagewise';

const page = pageSize();
const m = mmap(1 << 30, { noReserve: true }); // 1 GiB of address space
m.advise('nohugepage'); // count 4K faults, not 2 MiB ones
console.log(`mapped ${m.length} bytes at 0x${m.address.toString(16).replace(/^(.{4}).*$/, '$1…')}; resident: ${m.residentPages()} pages`);

const view = m.view(0, 100 * page);
const touch = (pages: number): void => {
  for (let i = 0; i < pages; i++) view[i * page] = 1;
};
// The runtime can take a fault of its own on this thread (JIT code, a GC), so
// count the fewest of 3 tries; MADV_DONTNEED makes the pages fresh again each time.
let faults = Infinity;
for (let attempt = 0; attempt < 3; attempt++) {
  m.advise('dontneed', 0, 100 * page);
  const before = getrusage('thread').minorFaults;
  touch(100);
  faults = Math.min(faults, getrusage('thread').minorFaults - before);
}
console.log(`wrote 1 byte to 100 pages: ${faults} minor faults on this thread (fewest of 3 tries), ${m.residentPages()} pages resident`);

m.advise('dontneed', 0, 100 * page);
console.log(`after MADV_DONTNEED: ${m.residentPages()} pages resident, first byte reads ${view[0]}`);

m.unmap();
console.log(`after unmap: the view's length is ${view.byteLength}; a second unmap() detaches ${m.unmap()} buffers`);

// Output:
// mapped 1073741824 bytes at 0x7f1c…; resident: 0 pages
// wrote 1 byte to 100 pages: 100 minor faults on this thread (fewest of 3 tries), 100 pages resident
// after MADV_DONTNEED: 0 pages resident, first byte reads 0
// after unmap: the view's length is 0; a second unmap() detaches 0 buffers
