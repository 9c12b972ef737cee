import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mmap, pageSize, hugetlbPools } from '../lib/index';
import { ifMeasurable } from './helpers/emulation';

const page = pageSize();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('file mappings', () => {
  it('a private mapping of a read-only descriptor reads the file; writes stay private (copy-on-write)', () => {
    const file = path.join(dir, 'ro.bin');
    fs.writeFileSync(file, Buffer.alloc(2 * page, 0x41));
    const fd = fs.openSync(file, 'r');
    try {
      const m = mmap(2 * page, { file: { fd } });
      const v = m.view();
      expect(v[0]).toBe(0x41);
      expect(v[2 * page - 1]).toBe(0x41);
      v[0] = 0x42; // a stray write: private page, never the file
      expect(v[0]).toBe(0x42);
      m.unmap();
      expect(fs.readFileSync(file)[0]).toBe(0x41);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a shared writable mapping of a read-only descriptor fails with EACCES', () => {
    const file = path.join(dir, 'ro2.bin');
    fs.writeFileSync(file, Buffer.alloc(page));
    const fd = fs.openSync(file, 'r');
    try {
      expect(() => mmap(page, { file: { fd }, shared: true })).toThrowError(expect.objectContaining({ code: 'EACCES', syscall: 'mmap' }));
    } finally {
      fs.closeSync(fd);
    }
  });

  it("a read-only mapping ('r') exposes no buffer but reports residency", () => {
    const file = path.join(dir, 'r.bin');
    fs.writeFileSync(file, Buffer.alloc(4 * page, 1));
    const fd = fs.openSync(file, 'r');
    try {
      const m = mmap(4 * page, { file: { fd }, prot: 'r', populate: true });
      expect(() => m.buffer).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      // MAP_POPULATE and pagemap are the kernel's (qemu-user 7.2 passes neither through).
      ifMeasurable(['mapPopulate', 'pagemap'], 'populated read-only file mapping residency', () => expect(m.residentPages()).toBe(4));
      m.unmap();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a bad descriptor fails with EBADF', () => {
    expect(() => mmap(page, { file: { fd: 987654 } })).toThrowError(expect.objectContaining({ code: 'EBADF', syscall: 'mmap', errno: -os.constants.errno.EBADF }));
  });
});

describe('MAP_HUGETLB', () => {
  it('maps hugetlbfs pages where the kernel has free ones, else fails with ENOMEM', () => {
    const pool = hugetlbPools().find((p) => p.free > 0);
    const size = pool?.size ?? hugetlbPools()[0]?.size;
    if (size === undefined) return void console.log('skipped: this kernel has no hugetlbfs pools');
    if (!pool) {
      ifMeasurable('hugetlb', 'MAP_HUGETLB ENOMEM', () => expect(() => mmap(size, { hugePages: true, hugePageSize: size })).toThrowError(expect.objectContaining({ code: 'ENOMEM', syscall: 'mmap' })));
      return;
    }
    if (!ifMeasurable('hugetlb', 'MAP_HUGETLB mapping', () => undefined)) return;
    const m = mmap(size, { hugePages: true, hugePageSize: size });
    expect(m.length).toBe(size);
    m.view(0, 8)[0] = 1;
    m.unmap();
  });
});
