import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mmap, pageSize, madvise, munmap, unsafe, adviceNames, adviceSupported, type Mapping } from '../lib/index';
import { ASAN, unlessSanitizer } from './helpers/sanitizer';
import { ifMeasurable } from './helpers/emulation';

const page = pageSize();

function mapCount(): number {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
}

/** Asserts `fn` throws `type` with `code` and that no mapping appeared (no system call succeeded). */
function refuses(fn: () => unknown, type: typeof TypeError | typeof RangeError, code: string): void {
  const attempt = (): [unknown, boolean] => {
    const before = mapCount();
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    return [caught, mapCount() === before];
  };
  let [caught, unchanged] = attempt();
  expect(caught).toBeInstanceOf(type);
  expect((caught as { code?: string }).code).toBe(code);
  expect((caught as { syscall?: string }).syscall).toBeUndefined();
  // V8's and libuv's threads map and unmap memory of their own at any moment,
  // so a changed count is retried: a mapping made by `fn` itself would show
  // in every attempt.
  for (let i = 0; i < 4 && !unchanged; i++) [, unchanged] = attempt();
  // Under qemu-user /proc/self/maps is the emulator's synthesised view (and
  // its own threads move it): ownAddressSpace compares it with the kernel's VmSize.
  unlessSanitizer('no new line in /proc/self/maps', ASAN.maps, () =>
    ifMeasurable('ownAddressSpace', 'no new line in /proc/self/maps', () => expect(unchanged).toBe(true)));
}

const valueOf = { valueOf: () => page };

describe('mmap(length, options) validates before any system call', () => {
  const badLengths: [unknown, typeof TypeError | typeof RangeError, string][] = [
    [NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    [Infinity, RangeError, 'ERR_OUT_OF_RANGE'],
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [0, RangeError, 'ERR_OUT_OF_RANGE'],
    [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 53, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 60, RangeError, 'ERR_OUT_OF_RANGE'],
    [BigInt(page), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [String(page), TypeError, 'ERR_INVALID_ARG_TYPE'],
    [valueOf, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [value, type, code] of badLengths) {
    it(`length ${typeof value === 'bigint' ? `${value}n` : String(value)}`, () => refuses(() => mmap(value as number), type, code));
  }

  it('options', () => {
    refuses(() => mmap(page, 'rw' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    refuses(() => mmap(page, { prot: 'rwz' as never }), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { prot: 3 as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    refuses(() => mmap(page, { noreserve: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { shared: 1 as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    refuses(() => mmap(page, { address: page as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    refuses(() => mmap(page, { address: BigInt(page) + 1n }), RangeError, 'ERR_OUT_OF_RANGE');
    refuses(() => mmap(page, { address: -1n }), RangeError, 'ERR_OUT_OF_RANGE');
    refuses(() => mmap(page, { file: { fd: -1 } }), RangeError, 'ERR_OUT_OF_RANGE');
    refuses(() => mmap(page, { file: { fd: 0, offset: 1 } }), RangeError, 'ERR_OUT_OF_RANGE');
    refuses(() => mmap(page, { file: { fd: 0, offset: BigInt(page) as never } }), TypeError, 'ERR_INVALID_ARG_TYPE');
    refuses(() => mmap(page, { file: { fd: 0, path: 'x' } as never }), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { name: 'a[b]' }), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { name: 'x'.repeat(80) }), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { hugePageSize: 2 ** 21 }), TypeError, 'ERR_INVALID_ARG_VALUE');
    refuses(() => mmap(page, { hugePages: true, hugePageSize: 3 * 2 ** 20 }), RangeError, 'ERR_OUT_OF_RANGE');
  });
});

describe('Mapping methods validate before any system call', () => {
  let m: Mapping;
  const fresh = (): Mapping => (m = mmap(8 * page));

  it('offsets and lengths', () => {
    fresh();
    try {
      refuses(() => m.advise('dontneed', 1), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', 9 * page), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', 0, 8 * page + 1), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', page, 8 * page), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', -page), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', NaN), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.advise('dontneed', 0n as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => m.advise('dontneed', 0, '1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => m.protect('rw', page / 2), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.residentPages(0, 2 ** 53), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.view(0, 8 * page + 1), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.view(-1), RangeError, 'ERR_OUT_OF_RANGE');
      refuses(() => m.view(valueOf as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => m.lock({ onFault: 'yes' } as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => m.sync({ flush: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE');
    } finally {
      m.unmap();
    }
  });

  it('advice and protection names', () => {
    fresh();
    try {
      refuses(() => m.advise('DONTNEED' as never), TypeError, 'ERR_INVALID_ARG_VALUE');
      refuses(() => m.advise('hwpoison' as never), TypeError, 'ERR_INVALID_ARG_VALUE');
      refuses(() => m.advise(4 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => m.protect('read' as never), TypeError, 'ERR_INVALID_ARG_VALUE');
      refuses(() => madvise({} as never, 'dontneed'), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => munmap(null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      refuses(() => unsafe.view({ buffer: new ArrayBuffer(8) } as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    } finally {
      m.unmap();
    }
  });

  it('every advice is either applied or refused by the kernel with code and syscall', () => {
    for (const advice of adviceNames) {
      const mm = mmap(4 * page);
      mm.view()[0] = 1;
      try {
        mm.advise(advice);
      } catch (e) {
        const err = e as { code?: string; syscall?: string };
        expect(err.syscall).toBe('madvise');
        expect(typeof err.code).toBe('string');
        // An advice the kernel knows may still be refused for this range
        // (e.g. 'remove' needs shared memory); an unknown one is EINVAL.
        if (!adviceSupported(advice)) expect(err.code).toBe('EINVAL');
      } finally {
        mm.unmap();
      }
    }
  });
});

it('unsafe.sbrk and unsafe.brk validate their arguments', () => {
  refuses(() => unsafe.sbrk(1.5), RangeError, 'ERR_OUT_OF_RANGE');
  refuses(() => unsafe.sbrk(1n as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  refuses(() => unsafe.brk(1 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  refuses(() => unsafe.mmapFixed(1n, page), RangeError, 'ERR_OUT_OF_RANGE');
});

describe('mmap and unsafe.mmapFixed decode their options in one place (decodeMapOptions)', () => {
  // Every bad option is refused by both with the same error; mmapFixed
  // targets a mapping of our own, so even a wrongly accepted call could only
  // replace memory this test owns.
  const fd = fs.openSync(__filename, 'r');
  const fileSize = fs.fstatSync(fd).size;
  const bad: [string, unknown, number][] = [
    ['an unknown option', { bogus: 1 }, page],
    ['a bad prot', { prot: 'rwz' }, page],
    ['shared as a string', { shared: 'yes' }, page],
    ['noReserve as a number', { noReserve: 1 }, page],
    ['populate as null', { populate: null }, page],
    ['hugePageSize without hugePages', { hugePageSize: 2 << 20 }, page],
    ['hugePages with noReserve', { hugePages: true, noReserve: true }, page],
    ['a hugePageSize that is no power of two', { hugePages: true, hugePageSize: 3 * page }, page],
    ['an unknown key in file', { file: { fd, bogus: 1 } }, page],
    ['a negative file descriptor', { file: { fd: -1 } }, page],
    ['a misaligned file offset', { file: { fd, offset: 1 } }, page],
    ['a file mapping past the end of the file', { file: { fd } }, Math.ceil(fileSize / page) * page + page],
    ['droppable over a file', { droppable: true, file: { fd } }, page],
    ['droppable and shared', { droppable: true, shared: true }, page],
  ];
  const target = mmap(4 * page);
  it.each(bad)('%s', (_what, options, length) => {
    let viaMmap: unknown;
    let viaFixed: unknown;
    try {
      mmap(length, options as never).unmap();
    } catch (e) {
      viaMmap = e;
    }
    try {
      unsafe.mmapFixed(target.address, length, options as never);
    } catch (e) {
      viaFixed = e;
    }
    expect(viaMmap).toBeInstanceOf(Error);
    expect((viaMmap as Error & { syscall?: string }).syscall).toBeUndefined();
    // The same message, but for the list of known options (mmapFixed has no address or name).
    const text = (e: unknown): string => (e as Error).message.replace(/ \(known: [^)]*\)/, '');
    expect(text(viaFixed)).toBe(text(viaMmap));
    expect((viaFixed as Error).constructor).toBe((viaMmap as Error).constructor);
    expect((viaFixed as { code?: string }).code).toBe((viaMmap as { code?: string }).code);
  });
  it('address and name stay mmap options only', () => {
    for (const options of [{ address: target.address }, { name: 'x' }]) {
      expect(() => unsafe.mmapFixed(target.address, page, options as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });
});

describe('a failed mmap says why in terms of this process', () => {
  it('a length past the whole address space is ENOMEM that names the address space, not the commit limit', () => {
    let err: NodeJS.ErrnoException | null = null;
    try {
      mmap(2 ** 52).unmap();
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toEqual(expect.objectContaining({ code: 'ENOMEM', errno: -12, syscall: 'mmap' }));
    expect(err!.message).toMatch(/the length is more than this process's whole address space: mappings end below 0x[0-9a-f]+/);
    expect(err!.message).not.toMatch(/commit limit/);
  });
});
