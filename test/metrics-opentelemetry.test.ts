/**
 * registerOpenTelemetry() with the real OpenTelemetry SDK (MeterProvider,
 * a PeriodicExportingMetricReader flushed by hand, the in-memory exporter):
 * names, units, instrument kinds and attributes as documented, values
 * those of the reading behind them (the Prometheus test checks readings
 * against the kernel's files), categories adding up to their walk exactly,
 * arenas as their stats() say.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Arena, pageSize, statmIsExact } from '../lib/index';
import { registerOpenTelemetry, METRICS } from '../lib/metrics';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
// Exports only when flushed below (the interval is never reached).
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2 ** 31 - 1 });
const provider = new MeterProvider({ readers: [reader] });
afterAll(async () => {
  await provider.shutdown();
});

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}
async function collect(): Promise<Map<string, { unit: string; type: DataPointType; monotonic?: boolean; points: Point[] }>> {
  exporter.reset();
  await reader.forceFlush();
  const out = new Map<string, { unit: string; type: DataPointType; monotonic?: boolean; points: Point[] }>();
  for (const rm of exporter.getMetrics()) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        out.set(m.descriptor.name, {
          unit: m.descriptor.unit, type: m.dataPointType, points: m.dataPoints as Point[],
          ...('isMonotonic' in m ? { monotonic: m.isMonotonic } : {}),
        });
      }
    }
  }
  return out;
}

describe('registerOpenTelemetry()', () => {
  it('reports process.memory.usage (semantic conventions) and gauges named as the Prometheus ones, in bytes, within the figures read beside them', async () => {
    const arena = new Arena({ name: 'otel-test' });
    arena.alloc(16 * pageSize()).fill(1);
    const r = registerOpenTelemetry(provider.getMeter('pagewise-test'), { minIntervalMs: 0 });
    expect(r.names).toEqual(Object.values(METRICS).map((m) => m.otel));
    expect(r.names).toEqual(['process.memory.usage', ...Object.values(METRICS).slice(1).map((m) => m.prometheus)]);
    const got = await collect();
    const last = r.sampler.last!;
    for (const name of r.names) expect(got.get(name)?.unit, name).toBe('By');

    // process.memory.usage is an UpDownCounter in the semantic conventions: a non-monotonic sum.
    const usage = got.get('process.memory.usage')!;
    expect(usage.type).toBe(DataPointType.SUM);
    expect(usage.monotonic).toBe(false);
    expect(usage.points).toHaveLength(1);
    const p = usage.points[0]!;
    // The reading the Prometheus gauges show too (checked against the kernel's files in metrics-prometheus.test.ts).
    expect(p.attributes).toEqual({ source: statmIsExact() ? 'statm' : 'smaps_rollup' });
    expect(p.value).toBe(last.resident.bytes);
    expect(last.resident.bytes % pageSize()).toBe(0);
    for (const name of ['pagewise_process_pss_bytes', 'pagewise_process_swap_bytes', 'pagewise_memory_bytes', 'pagewise_arena_committed_bytes']) {
      expect(got.get(name)!.type, name).toBe(DataPointType.GAUGE);
    }
    expect(got.get('pagewise_process_pss_bytes')!.points[0]!.value).toBe(last.pss);
    expect(last.pss!).toBeGreaterThan(0);
    const cats = got.get('pagewise_memory_bytes')!.points;
    expect(cats.every((c) => typeof c.attributes.category === 'string')).toBe(true);
    expect(cats.reduce((a, c) => a + (c.value as number), 0)).toBe(r.sampler.last!.categoriesRss);
    const committed = got.get('pagewise_arena_committed_bytes')!.points.find((c) => c.attributes.arena === 'otel-test');
    expect(committed?.value).toBe(arena.stats().committed);
    const resident = got.get('pagewise_arena_resident_bytes')!.points.find((c) => c.attributes.arena === 'otel-test');
    expect(resident?.value).toBe(arena.stats({ resident: true }).resident);
    arena.close();
    r.unregister();
  });

  it('one reading per collection within minIntervalMs; unregister stops the callback', async () => {
    const r = registerOpenTelemetry(provider.getMeter('pagewise-interval'), { minIntervalMs: 3_600_000, categories: false });
    await collect();
    await collect();
    expect(r.sampler.readings).toBe(1);
    expect(r.sampler.walks).toBe(0);
    r.unregister();
    r.unregister();
  });

  it('refuses a meter that is not one, and bad options, before creating instruments', () => {
    expect(() => registerOpenTelemetry({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => registerOpenTelemetry(provider.getMeter('x'), { pss: 'yes' } as never)).toThrow(TypeError);
  });
});
