/**
 * Listing and looking up the calling process's mappings: `readMaps()` by
 * `ioctl(PROCMAP_QUERY)` (Linux 6.11+, one call per VMA) against reading and
 * parsing `/proc/self/maps`, and `queryMapping()` of one address against
 * finding it in the parsed text; at the process's own mappings and with
 * 10,000 more (pages of one mapping made alternately read-only).
 */
import * as fs from 'node:fs';
import { kernelHas } from '../kernel/features';
import { mmap, type Mapping } from '../mapping';
import { native } from '../native/binding';
import { cbench } from './cnative';
import { queryMapping, readMaps, readMapsByQuery } from '../kernel/maps-query';
import { findMapping, parseMaps, readMapsText } from '../kernel/maps';
import { explain } from '../explain';
import { procPath } from '../kernel/parse';
import { pageSize } from '../kernel/system';
import type { Benchmark, Prepared } from './harness';
import { timeLoop } from './harness';
import { C } from './cnative';

/** The C loops of native/lab/cbench.cc: 0 read the text, 1 list by queries, 2 one query; total ns. */
const cbenchMaps = cbench.cbenchMaps;

/** A mapping split into `vmas` VMAs (every other page read-only), or null for none. */
function splitMapping(vmas: number): Mapping | null {
  if (vmas === 0) return null;
  const page = pageSize();
  const m = mmap(vmas * page, { noReserve: true });
  for (let i = 1; i < vmas; i += 2) native.mprotect(m.region, i * page, page, C.PROT_READ);
  return m;
}

const parseText = (): number => parseMaps(fs.readFileSync(procPath('self', 'maps'), 'utf8')).length;

function prepared(extra: number, quick: boolean, one: boolean): Prepared {
  if (!kernelHas('procmapQuery')) throw new Error('PROCMAP_QUERY needs Linux 6.11+');
  const m = splitMapping(quick ? Math.min(extra, 100) : extra);
  const vmas = readMapsByQuery().length;
  const n = quick ? 1 : Math.max(1, Math.round(20_000 / vmas));
  const at = m === null ? readMapsByQuery()[0]!.start : m.address + BigInt(pageSize() * Math.floor((m.length / pageSize()) / 2));
  const close = (): void => void m?.unmap();
  const notes = [`${vmas} mappings in the process while sampling`];
  if (one) {
    const k = quick ? 2 : 20 * n;
    return {
      subject: { label: 'queryMapping (PROCMAP_QUERY)', sample: () => timeLoop(k, () => void queryMapping(at)) },
      baselines: [
        { label: 'C ioctl(PROCMAP_QUERY)', kind: 'c', sample: () => cbenchMaps(2, k, at) / k },
        { label: 'C read of /proc/self/maps', kind: 'c', sample: () => cbenchMaps(0, n, 0n) / n },
        { label: 'parse /proc/self/maps + find', kind: 'node', sample: () => timeLoop(n, () => void findMapping(parseMaps(fs.readFileSync(procPath('self', 'maps'), 'utf8')), at)) },
      ],
      close, notes,
    };
  }
  return {
    subject: { label: 'readMaps() by PROCMAP_QUERY', sample: () => timeLoop(n, () => void readMapsByQuery()) },
    baselines: [
      { label: 'C ioctl(PROCMAP_QUERY) per VMA', kind: 'c', sample: () => cbenchMaps(1, n, 0n) / n },
      { label: 'C read of /proc/self/maps', kind: 'c', sample: () => cbenchMaps(0, n, 0n) / n },
      { label: 'parse /proc/self/maps', kind: 'node', sample: () => timeLoop(n, () => void parseText()) },
    ],
    close, notes,
  };
}

function bench(name: string, extra: number, one: boolean): Benchmark {
  const what = one ? 'queryMapping() of one address' : 'readMaps() (every mapping)';
  return {
    name,
    group: 'maps',
    title: `${what} by PROCMAP_QUERY, ${extra === 0 ? "at the process's own mappings" : `with ${extra.toLocaleString('en')} mappings added`}`,
    unit: 'call',
    runs: 7,
    prepare: ({ quick }) => prepared(extra, quick, one),
  };
}

/**
 * `readMaps()` (the public reader: the text of /proc/self/maps, parsed)
 * beside a JS parse of the same text (the target: no slower than the
 * plain `parseMaps(readFileSync(...))` a user writes) and a C read of it.
 */
function readMapsBench(name: string, extra: number): Benchmark {
  return {
    name,
    group: 'maps',
    title: `readMaps() ${extra === 0 ? "at the process's own mappings" : `with ${extra.toLocaleString('en')} mappings added`}`,
    unit: 'call',
    targets: [{ baseline: 'parse /proc/self/maps', maxRatio: 1 }],
    prepare({ quick }) {
      const m = splitMapping(quick ? Math.min(extra, 100) : extra);
      const vmas = readMapsText().length;
      const n = quick ? 1 : Math.max(1, Math.round(20_000 / vmas));
      return {
        subject: { label: 'pagewise', sample: () => timeLoop(n, () => void readMaps()) },
        baselines: [
          { label: 'parse /proc/self/maps', kind: 'node', sample: () => timeLoop(n, () => void parseText()) },
          { label: 'C read of /proc/self/maps', kind: 'c', sample: () => cbenchMaps(0, n, 0n) / n },
        ],
        close: () => void m?.unmap(),
        notes: [`${vmas} mappings in the process while sampling`],
      };
    },
  };
}

/**
 * `explain()` of a process with 10,000 more mappings, beside a C read of
 * /proc/self/smaps (what explain reads; the target is 2x that read).
 */
const explainMany: Benchmark = {
  name: 'explain-10000',
  group: 'maps',
  title: 'explain() with 10,000 mappings added',
  unit: 'call',
  runs: 11,
  targets: [{ baseline: 'C read of /proc/self/smaps', maxRatio: 2 }],
  prepare({ quick }) {
    const m = splitMapping(quick ? 100 : 10_000);
    const vmas = readMapsText().length;
    const n = quick ? 1 : 2;
    const smaps = procPath('self', 'smaps');
    return {
      subject: { label: 'pagewise', sample: () => timeLoop(n, () => void explain()) },
      baselines: [
        { label: 'C read of /proc/self/smaps', kind: 'c', sample: () => cbench.cbenchReadAll(smaps, n) / n },
        { label: 'readFileSync(/proc/self/smaps)', kind: 'node', sample: () => timeLoop(n, () => void fs.readFileSync(smaps, 'utf8')) },
      ],
      close: () => void m?.unmap(),
      notes: [`${vmas} mappings in the process while sampling`],
    };
  },
};

/** The maps benchmarks. */
export const mapsBenchmarks: readonly Benchmark[] = [
  bench('maps-list-own', 0, false),
  bench('maps-list-10000', 10_000, false),
  bench('maps-one-own', 0, true),
  bench('maps-one-10000', 10_000, true),
  readMapsBench('readmaps-own', 0),
  readMapsBench('readmaps-10000', 10_000),
  explainMany,
];
