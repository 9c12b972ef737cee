/**
 * `pagewise/metrics`: exact memory figures where operators already look,
 * Prometheus (`prom-client`) and OpenTelemetry. This file only re-exports.
 */
export { registerPrometheus } from './prometheus';
export type { PrometheusRegistry, PrometheusRegistration } from './prometheus';
export { registerOpenTelemetry } from './opentelemetry';
export type { OtelMeter, OtelObservable, OtelBatchResult, OpenTelemetryRegistration } from './opentelemetry';
export type { MetricsOptions } from './sampler';
export { METRICS } from './names';
export type { MetricName } from './names';
export { memoryUsage } from '../measure/memory-usage';
export type { MemoryUsage, MemoryUsageOptions } from '../measure/memory-usage';
export { usage } from '../measure/usage';
export type { PidUsage, UsageOptions } from '../measure/usage';
