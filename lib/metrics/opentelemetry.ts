/**
 * `registerOpenTelemetry()`: the same figures as observable instruments of an
 * OpenTelemetry `Meter` (`@opentelemetry/api` 1.3+), read in one batch
 * callback per collection. pagewise calls only the meter it is given, so it
 * loads nothing of OpenTelemetry itself.
 */
import { invalidType } from '../errors';
import { enabledMetrics, METRICS, valuesOf, type MetricKey } from './names';
import { resolveMetricsOptions, Sampler, type MetricsOptions } from './sampler';

/** An observable instrument, as the meter returns it (opaque to pagewise). */
export type OtelObservable = object;
/** The result object of a batch observable callback. */
export interface OtelBatchResult {
  observe(observable: OtelObservable, value: number, attributes?: Record<string, string>): void;
}
type BatchCallback = (result: OtelBatchResult) => void;
/** The part of an OpenTelemetry `Meter` pagewise uses. */
export interface OtelMeter {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  createObservableUpDownCounter(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  addBatchObservableCallback(callback: BatchCallback, observables: OtelObservable[]): void;
  removeBatchObservableCallback(callback: BatchCallback, observables: OtelObservable[]): void;
}

/** What {@link registerOpenTelemetry} registered. */
export interface OpenTelemetryRegistration {
  /** The instrument names, in order. */
  readonly names: readonly string[];
  /** Stops reporting (removes the batch callback). Calling it again does nothing. */
  unregister(): void;
  /** @internal */
  readonly sampler: Sampler;
}

/**
 * Registers pagewise's figures on `meter`, unit `By` (bytes): resident memory
 * as the semantic conventions' `process.memory.usage` (an observable
 * up-down counter, as the convention defines it) with attribute `source`;
 * observable gauges named as `registerPrometheus` names them
 * (`pagewise_process_pss_bytes`, `pagewise_process_swap_bytes`,
 * `pagewise_memory_bytes` with `category`, `pagewise_arena_*_bytes` with
 * `arena`). Same options, intervals and bounds as `registerPrometheus`.
 */
export function registerOpenTelemetry(meter: OtelMeter, options?: MetricsOptions): OpenTelemetryRegistration {
  const methods = ['createObservableGauge', 'createObservableUpDownCounter', 'addBatchObservableCallback', 'removeBatchObservableCallback'] as const;
  if (typeof meter !== 'object' || meter === null || methods.some((m) => typeof meter[m] !== 'function')) {
    throw invalidType('meter', 'an OpenTelemetry Meter (@opentelemetry/api 1.3 or later)', meter);
  }
  const o = resolveMetricsOptions(options);
  const sampler = new Sampler(o);
  const keys: MetricKey[] = enabledMetrics(o);
  const instruments = keys.map((key) => {
    const m = METRICS[key];
    const config = { description: m.help, unit: 'By' };
    return key === 'resident' ? meter.createObservableUpDownCounter(m.otel, config) : meter.createObservableGauge(m.otel, config);
  });
  const callback: BatchCallback = (result) => {
    const s = sampler.sample();
    keys.forEach((key, i) => {
      const label = METRICS[key].label;
      for (const [value, bytes] of valuesOf(key, s)) {
        if (label === null) result.observe(instruments[i]!, bytes);
        else result.observe(instruments[i]!, bytes, { [label]: value! });
      }
    });
  };
  meter.addBatchObservableCallback(callback, instruments);
  let done = false;
  return {
    names: keys.map((k) => METRICS[k].otel),
    sampler,
    unregister() {
      if (done) return;
      done = true;
      meter.removeBatchObservableCallback(callback, instruments);
    },
  };
}
