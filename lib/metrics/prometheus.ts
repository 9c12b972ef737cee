/** `registerPrometheus()`: pagewise's gauges in a `prom-client` registry, read on scrape. */
import { invalidType, pagewiseError } from '../errors';
import { enabledMetrics, METRICS, valuesOf, type MetricKey } from './names';
import { resolveMetricsOptions, Sampler, type MetricsOptions } from './sampler';

/** The part of a prom-client `Registry` pagewise uses (prom-client 14 and 15). */
export interface PrometheusRegistry {
  registerMetric(metric: unknown): void;
  removeSingleMetric(name: string): void;
}

/** What {@link registerPrometheus} registered. */
export interface PrometheusRegistration {
  /** The metric names registered, in order. */
  readonly names: readonly string[];
  /** Removes them from the registry. Calling it again does nothing. */
  unregister(): void;
  /** @internal The readings behind the gauges. */
  readonly sampler: Sampler;
}

interface GaugeLike {
  reset(): void;
  set(labels: Record<string, string>, value: number): void;
  set(value: number): void;
}
type GaugeConfig = { name: string; help: string; labelNames: string[]; registers: PrometheusRegistry[]; collect(this: GaugeLike): void };
interface PromClient {
  Gauge: new (config: GaugeConfig) => GaugeLike;
  register: PrometheusRegistry;
}

/** prom-client, or a clear error naming the fix. @internal */
export function loadPromClient(): PromClient {
  try {
    return require('prom-client') as PromClient;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw cause;
    throw pagewiseError(
      'ERR_PAGEWISE_PEER_MISSING',
      'pagewise/metrics registerPrometheus() needs the prom-client package, an optional peer dependency of pagewise that is not installed: run `npm install prom-client`',
      cause,
    );
  }
}

/**
 * Registers pagewise's gauges in `registry` (a prom-client `Registry`;
 * default prom-client's global `register`):
 * `pagewise_process_resident_bytes{source}`, `pagewise_process_pss_bytes`,
 * `pagewise_process_swap_bytes`, `pagewise_memory_bytes{category}` and
 * `pagewise_arena_{committed,allocated,retained,resident}_bytes{arena}`.
 * They are read when the registry is scraped, at most once per
 * `minIntervalMs` (categories once per `categoriesIntervalMs`). Options are
 * checked before anything is registered; prom-client missing throws
 * `ERR_PAGEWISE_PEER_MISSING`.
 */
export function registerPrometheus(registry?: PrometheusRegistry, options?: MetricsOptions): PrometheusRegistration {
  const o = resolveMetricsOptions(options);
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function')) {
    throw invalidType('registry', 'a prom-client Registry', registry);
  }
  const prom = loadPromClient();
  const target = registry ?? prom.register;
  const sampler = new Sampler(o);
  const names: string[] = [];
  const keys: MetricKey[] = enabledMetrics(o);
  try {
    for (const key of keys) {
      const m = METRICS[key];
      const label = m.label;
      new prom.Gauge({
        name: m.prometheus, help: m.help, labelNames: label === null ? [] : [label], registers: [target],
        collect(this: GaugeLike) {
          const values = valuesOf(key, sampler.sample());
          this.reset();
          for (const [value, bytes] of values) {
            if (label === null) this.set(bytes);
            else this.set({ [label]: value! }, bytes);
          }
        },
      });
      names.push(m.prometheus);
    }
  } catch (err) {
    for (const n of names) target.removeSingleMetric(n);
    throw err;
  }
  let done = false;
  return {
    names,
    sampler,
    unregister() {
      if (done) return;
      done = true;
      for (const n of names) target.removeSingleMetric(n);
    },
  };
}
