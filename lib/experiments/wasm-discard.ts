/** Experiment 13: a WebAssembly.Memory's pages before and after discard(). */
import { native } from '../native/binding';
import { pageSize } from '../kernel/system';
import { discard } from '../process/discard';
import { defineExperiment, m, skippedOutcome, type Outcome } from './define';
import { showSpread, spread } from './trials';

const WASM_PAGE = 65536;

function body(): Outcome {
  const W = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number; maximum?: number }) => { buffer: ArrayBuffer; grow(n: number): number } } }).WebAssembly;
  if (!W) return skippedOutcome('this runtime has no WebAssembly');
  if (!native.mincoreAt) return skippedOutcome('no mincoreAt in the binary');
  const page = pageSize();
  const wasmPages = 256; // 16 MiB
  const trials = 7;
  const drops: number[] = [];
  const expected: number[] = [];
  const residentAfterWrite: number[] = [];
  const stillWorks: boolean[] = [];
  for (let t = 0; t < trials; t++) {
    const mem = new W.Memory({ initial: wasmPages, maximum: wasmPages * 2 });
    const u = new Uint8Array(mem.buffer);
    for (let i = 0; i < u.length; i += page) u[i] = 1;
    const info = native.arrayBufferInfo(mem.buffer)!;
    const start = info[0];
    const before = native.mincoreAt(start, u.length, null);
    residentAfterWrite.push(before);
    // Give back the upper half, as an allocator inside the module would for a freed region.
    const r = discard(mem.buffer, u.length / 2, u.length / 2);
    const after = native.mincoreAt(start, u.length, null);
    drops.push(before - after);
    expected.push(r.bytes / page);
    u[u.length - 1] = 7;
    stillWorks.push(u[u.length - 1] === 7 && u[u.length / 2] === 0 && mem.grow(1) === wasmPages);
  }
  const drop = spread(drops);
  // Exact page counts (mincore), not a timing: the verdict needs every trial to give back exactly the pages advised,
  // so no interval is needed and none is taken.
  const exact = drops.every((d, i) => d === expected[i]);
  const works = stillWorks.every(Boolean);
  return {
    measurements: [
      m('memory size', wasmPages * WASM_PAGE, 'bytes', 'WebAssembly.Memory'),
      m('pages resident after writing every page', spread(residentAfterWrite).median, 'pages', 'mincore'),
      m('pages given back by discard of the upper half', drop.median, 'pages', 'mincore before - after'),
      m('pages discard advised', spread(expected).median, 'pages', 'discard().bytes / page size'),
      m('every trial exact', exact ? 'yes' : 'no', '', `${trials} trials`),
      m('memory still usable and growable afterwards', works ? 'yes' : 'no', '', 'write, read back, grow(1)'),
    ],
    verdict: exact && works ? 'confirmed' : 'refuted',
    condition: `residency fell by ${showSpread(drop, (v) => `${v} pages`)}, ${exact ? 'exactly' : 'not exactly'} the whole pages discard advised`,
    notes:
      'A WebAssembly.Memory is private anonymous memory V8 reserved; discard() gives back the pages of a range with MADV_DONTNEED (the memory.discard ' +
      'proposal, which Node does not ship). The memory stays mapped read-write: the range reads zero, writes fault in fresh pages, and grow() still works.',
    key: ['pages resident after writing every page', 'pages given back by discard of the upper half', 'every trial exact'],
  };
}

export const wasmDiscard = defineExperiment(
  {
    id: 'wasm-discard',
    number: 13,
    title: 'WebAssembly memory and discard()',
    question: 'Can a Node process give back the pages of a WebAssembly.Memory without shrinking it?',
    claim: 'discard() over a range of a WebAssembly.Memory lowers its residency by exactly the whole pages of the range, and the memory keeps working.',
  },
  body,
);
