/**
 * The measurement API's shapes, validation (before any syscall) and the
 * sources it names.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { kernelHas, mmap, pageSize, residency, residencyOfRange, rss, faults, measure, measureSync, statmIsExact, zeroPageBehaviour } from '../lib/index';
import { ifMeasurable } from './helpers/emulation';

const page = pageSize();
const kernel = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
const [major, minor] = kernel.split('.').map(Number) as [number, number];
const hasScan = major > 6 || (major === 6 && minor >= 7);

describe('residency()', () => {
  it('names its source and what it cannot tell', () => {
    const m = mmap(8 * page);
    try {
      m.view()[0] = 1;
      expect(residency(m, 0, undefined, { source: 'mincore' })).toEqual({
        pages: 1, bytes: page, source: 'mincore', exact: true, fallback: null, counts: 'process', present: 1,
        swapped: null, exclusive: null, softDirty: null, fileOrShared: null, zeroPage: null, guard: kernelHas('guardReport') ? 0 : null,
      });
      const pm = residency(m, 0, undefined, { source: 'pagemap' });
      ifMeasurable('pagemap', 'pagemap counts', () => expect(pm).toMatchObject({ pages: 1, bytes: page, source: 'pagemap', fallback: null, present: 1, swapped: 0, exclusive: 1, fileOrShared: 0 }));
      const scan = residency(m, 0, undefined, { source: 'pagemap_scan' });
      if (!hasScan) expect(scan).toMatchObject({ source: 'pagemap', fallback: expect.stringMatching(/PAGEMAP_SCAN.*used pagemap/) });
      else ifMeasurable('pagemapScan', 'PAGEMAP_SCAN source', () => {
        expect(scan).toMatchObject({ source: 'pagemap_scan', fallback: null, pages: 1, zeroPage: 0, exclusive: null });
        expect(residency(m).source).toBe('pagemap_scan');
      });
    } finally {
      m.unmap();
    }
  });

  it('shared anonymous memory counts as fileOrShared', () => {
    const m = mmap(4 * page, { shared: true });
    try {
      m.view().fill(1, 0, 2 * page);
      ifMeasurable('pagemap', 'pagemap counts', () => expect(residency(m, 0, undefined, { source: 'pagemap' })).toMatchObject({ pages: 2, fileOrShared: 2 }));
      if (hasScan) ifMeasurable('pagemapScan', 'PAGEMAP_SCAN counts', () => expect(residency(m)).toMatchObject({ pages: 2, fileOrShared: 2 }));
    } finally {
      m.unmap();
    }
  });

  it('validates before any syscall', () => {
    const m = mmap(4 * page);
    try {
      expect(() => residency({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(() => residency(m, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => residency(m, 0, 5 * page)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => residency(m, 0, undefined, { source: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect(() => residency(m, 0, undefined, { sorce: 'mincore' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
      expect(() => residencyOfRange(m.region, 1, page)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    } finally {
      m.unmap();
    }
    expect(() => residency(m)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
  });

  it("residencyOfRange turns the native layer's refusals (by their reason, not their message) into the documented errors", () => {
    const m = mmap(4 * page);
    const region = m.region;
    try {
      expect(() => residencyOfRange({} as never, 0, page)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/"region"/) }));
      expect(() => residencyOfRange(region, 0, 5 * page)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"length"/) }));
    } finally {
      m.unmap();
    }
    expect(() => residencyOfRange(region, 0, page)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE', message: 'The region is unmapped' }));
  });

  it('residencyOfRange works on a region handle', () => {
    const m = mmap(8 * page);
    try {
      m.view().fill(1, 2 * page, 3 * page);
      const source = residencyOfRange(m.region, 0, 8 * page).source;
      ifMeasurable(source === 'pagemap_scan' ? 'pagemapScan' : source === 'pagemap' ? 'pagemap' : 'mincore', `${source} counts`, () => {
        expect(residencyOfRange(m.region, 0, 8 * page).pages).toBe(1);
        expect(residencyOfRange(m.region, 3 * page, 5 * page).pages).toBe(0);
      });
      ifMeasurable('mincore', 'mincore counts', () => expect(residencyOfRange(m.region, 2 * page, page, { source: 'mincore' }).pages).toBe(1));
    } finally {
      m.unmap();
    }
  });
});

describe('rss()', () => {
  it('returns an object with its bytes, pages and source, as docs/measurement.md shows', () => {
    const fast = rss();
    expect(Object.keys(fast).sort()).toEqual(['bytes', 'exact', 'pages', 'source']);
    // statm is an exact sum from Linux 6.16 on (statmIsExact reads the release; backports answer false).
    expect(fast).toMatchObject({ source: 'statm', exact: statmIsExact(os.release()) });
    expect(fast.bytes).toBe(fast.pages * page);
    const exact = rss({ exact: true });
    expect(exact).toMatchObject({ source: 'smaps_rollup', exact: true });
    expect(exact.bytes).toBe(exact.pages * page);
  });
  it('validates options', () => {
    expect(() => rss({ exact: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => rss({ fast: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(rss({ exact: false }).source).toBe('statm');
  });
});

describe('faults()', () => {
  it('names its source and scope; perf is per thread or says why not', () => {
    const t = faults();
    expect(t).toMatchObject({ scope: 'thread', source: 'getrusage' });
    expect(Number.isInteger(t.minor)).toBe(true);
    if ('unavailable' in t.perf) expect(t.perf.unavailable).toMatch(/perf_event_open failed with E[A-Z]+ \(kernel.perf_event_paranoid=/);
    const p = faults({ scope: 'process' });
    expect(p).toMatchObject({ scope: 'process', source: 'getrusage', perf: { unavailable: expect.stringContaining('calling thread only') } });
    expect(p.minor).toBeGreaterThanOrEqual(faults({ perf: false }).minor);
    expect(faults({ perf: false }).perf).toEqual({ unavailable: 'not requested (options.perf: false)' });
    expect(() => faults({ scope: 'all' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('faults(out) fills a Float64Array in place, checked before any system call', () => {
    const out = new Float64Array(2);
    expect(faults(out)).toBe(out);
    expect(Number.isInteger(out[0])).toBe(true);
    expect(out[1]).toBeGreaterThanOrEqual(0);
    const p = new Float64Array(4);
    faults(p, { scope: 'process', perf: true });
    expect(p[0]).toBeGreaterThanOrEqual(out[0]!);
    expect(Number.isNaN(p[2]!) && Number.isNaN(p[3]!)).toBe(true); // perf counts this thread only
    const code = (c: string) => expect.objectContaining({ code: c });
    expect(() => faults(out, { perf: true })).toThrow(code('ERR_OUT_OF_RANGE')); // 4 needed with perf
    expect(() => faults(new Float64Array(1))).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => faults(out, { scope: 'all' } as never)).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(() => faults(out, { perf: 1 } as never)).toThrow(code('ERR_INVALID_ARG_TYPE'));
    // Only a real Float64Array is an out array; anything else is an options
    // object, checked as before (an index key is an unknown option).
    expect(() => faults(new Float32Array(4) as never)).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(() => faults(new Proxy(new Float64Array(4), {}) as never)).toThrow(code('ERR_INVALID_ARG_VALUE'));
    expect(faults(Object.create(Float64Array.prototype) as never)).toMatchObject({ scope: 'thread', source: 'getrusage' });
  });
});

describe('measure() and measureSync()', () => {
  it('validate fn and options', async () => {
    expect(() => measureSync(1 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(measure(1 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => measureSync(() => 1, { mappings: [{}] as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => measureSync(() => 1, { mapping: [] } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('measureSync refuses an async function, or one that returns a promise, with a TypeError', () => {
    let ran = 0;
    expect(() => measureSync(async () => { ran++; })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/synchronous function.*use measure\(\)/) }));
    expect(ran).toBe(0); // refused before it ran
    expect(() => measureSync(() => Promise.resolve(ran++))).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/returns a promise/) }));
  });

  it("the measurement snippet: 1000 pages written, counted exactly by the mapping's residency", () => {
    // docs/measurement.md, "An exact count" (and the README's tour): the numbers it claims exactly are asserted
    // exactly here; the thread's faults and the process RSS only as bounds
    // (V8 can fault on this thread, and its other threads move the RSS).
    const m = mmap(1 << 30, { noReserve: true });
    try {
      m.advise('nohugepage');
      const v = m.view(0, 1000 * pageSize());
      const r = measureSync(() => { for (let i = 0; i < 1000; i++) v[i * pageSize()] = 1; }, { mappings: [m] });
      // Residency by pagemap (qemu-user fakes it at a guest page size larger than the host's).
      ifMeasurable(['pagemap', 'mincore'], 'the snippet\'s residency', () => {
        expect(r.residency[0]!.pages).toBe(1000);
        expect(r.residency[0]!.bytes).toBe(1000 * pageSize());
      });
      ifMeasurable('rusageFaults', 'thread faults', () => expect(r.threadFaults.minor).toBeGreaterThanOrEqual(1000));
    } finally {
      m.unmap();
    }
  });

  it('rethrow what fn throws', async () => {
    expect(() => measureSync(() => { throw new Error('boom'); })).toThrow('boom');
    await expect(measure(async () => { throw new Error('later'); })).rejects.toThrow('later');
  });

  it('return every field with notes', () => {
    const r = measureSync(() => 42);
    expect(r.result).toBe(42);
    expect(Object.keys(r).sort()).toEqual(['notes', 'perfFaults', 'processFaults', 'residency', 'result', 'rss', 'threadFaults', 'timeNs']);
    expect(r.residency).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/RUSAGE_THREAD/);
    expect(r.notes.some((n) => n.includes('async'))).toBe(false);
  });
});

describe('zeroPageBehaviour()', () => {
  it('is measured once and cached, with its method and numbers', () => {
    const z = zeroPageBehaviour();
    expect(zeroPageBehaviour()).toBe(z);
    expect(typeof z.readFaultMapsZeroPage).toBe('boolean');
    if (hasScan) ifMeasurable('pagemapScan', 'zero page measured by PAGEMAP_SCAN', () => expect(z.method).toBe('pagemap_scan'));
    expect(z.detail).toMatch(/fresh pages read/);
  });
});

describe('exported types', () => {
  it('one name per exported type across the entry points (pagewise, pagewise/experiments, pagewise/bench)', async () => {
    // The TypeScript checker resolves every export of each entry point to its
    // declaration; a name exported by two entry points must be the same type.
    const ts = (await import('typescript')).default;
    const path = await import('node:path');
    const root = path.resolve(__dirname, '..');
    const entries = ['lib/index.ts', 'lib/experiments/index.ts', 'lib/bench/index.ts'].map((f) => path.join(root, f));
    const program = ts.createProgram(entries, { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 });
    const checker = program.getTypeChecker();
    const seen = new Map<string, { entry: string; decl: import('typescript').Declaration | undefined }>();
    const clashes: string[] = [];
    for (const entry of entries) {
      const sf = program.getSourceFile(entry)!;
      const mod = checker.getSymbolAtLocation(sf)!;
      for (const sym of checker.getExportsOfModule(mod)) {
        const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
        if (!(target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue;
        const decl = target.declarations?.[0];
        const prev = seen.get(sym.name);
        if (prev && prev.decl !== decl) clashes.push(`${sym.name}: ${path.relative(root, prev.entry)} and ${path.relative(root, entry)}`);
        seen.set(sym.name, { entry, decl });
      }
    }
    expect(seen.has('Measurement')).toBe(true);
    expect(seen.has('ExperimentMeasurement')).toBe(true);
    expect(clashes).toEqual([]);
  }, 600_000);
});
