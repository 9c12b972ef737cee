/**
 * The metric names, one table for both exporters. OpenTelemetry gets the same
 * names (with unit `By`), so a dashboard reads either exporter's series (the
 * OpenTelemetry Prometheus exporter passes them through unchanged); resident
 * memory there is the semantic conventions' `process.memory.usage` instead.
 */

/** One metric of the table: names for both worlds, help text, label, and the option that turns it off. */
export interface MetricName {
  prometheus: string;
  otel: string;
  help: string;
  label: 'source' | 'category' | 'arena' | null;
}

/** A metric named the same for Prometheus and OpenTelemetry. */
function same(name: string, label: MetricName['label'], help: string): MetricName {
  return { prometheus: name, otel: name, label, help };
}

export const METRICS = {
  resident: {
    prometheus: 'pagewise_process_resident_bytes', otel: 'process.memory.usage', label: 'source',
    help: 'Resident set size of this process, bytes; source: statm (kernel counters, exact on Linux 6.16+) or smaps_rollup (page-table walk, exact)',
  },
  pss: same('pagewise_process_pss_bytes', null, 'Proportional set size of this process (smaps_rollup Pss), bytes'),
  swap: same('pagewise_process_swap_bytes', null, 'Swapped-out memory of this process (smaps_rollup Swap, or status VmSwap), bytes'),
  categories: same('pagewise_memory_bytes', 'category', 'Resident bytes of this process by owner (pagewise explain(): code, heap, v8-heap, thread-stacks, ...); the categories add up to the resident set at the walk'),
  arenaCommitted: same('pagewise_arena_committed_bytes', 'arena', 'Committed (read-write, charged) bytes of pagewise arenas, by arena name'),
  arenaAllocated: same('pagewise_arena_allocated_bytes', 'arena', 'Bytes in live blocks of pagewise arenas, by arena name'),
  arenaRetained: same('pagewise_arena_retained_bytes', 'arena', 'Free pages pagewise arenas keep dirty for reuse, bytes, by arena name'),
  arenaResident: same('pagewise_arena_resident_bytes', 'arena', 'Resident bytes of the committed range of pagewise arenas (mincore), by arena name'),
} as const satisfies Record<string, MetricName>;

export type MetricKey = keyof typeof METRICS;

/** The metrics a set of options turns on, in table order. */
export function enabledMetrics(o: { pss: boolean; categories: boolean; arenas: boolean }): MetricKey[] {
  return (Object.keys(METRICS) as MetricKey[]).filter((k) => {
    if (k === 'pss') return o.pss;
    if (k === 'categories') return o.categories;
    if (k.startsWith('arena')) return o.arenas;
    return true;
  });
}

/** The values of one metric in a sample, as (label value or null, bytes) pairs. */
export function valuesOf(key: MetricKey, s: import('./sampler').MetricsSample): [string | null, number][] {
  switch (key) {
    case 'resident':
      return [[s.resident.source, s.resident.bytes]];
    case 'pss':
      return s.pss === null ? [] : [[null, s.pss]];
    case 'swap':
      return s.swap === null ? [] : [[null, s.swap]];
    case 'categories':
      return s.categories === null ? [] : [...s.categories];
    case 'arenaCommitted':
      return [...s.arenas].map(([n, a]) => [n, a.committed]);
    case 'arenaAllocated':
      return [...s.arenas].map(([n, a]) => [n, a.allocated]);
    case 'arenaRetained':
      return [...s.arenas].map(([n, a]) => [n, a.retained]);
    case 'arenaResident':
      return [...s.arenas].map(([n, a]) => [n, a.resident]);
  }
}
