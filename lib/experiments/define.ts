/**
 * Defining an experiment: the measurement builder, the outcome a body
 * returns, and the wrapper that adds the run's metadata.
 * @internal
 */
import { thpMode } from '../kernel/facts';
import type { Experiment, ExperimentResult, ExperimentMeasurement, Series, Verdict } from './experiment';

/** Builder for a measurement. */
export function m(name: string, value: ExperimentMeasurement['value'], unit: string, source: string): ExperimentMeasurement {
  return { name, value, unit, source };
}

/** What an experiment's body returns; the runner adds the metadata. */
export interface Outcome {
  measurements: ExperimentMeasurement[];
  verdict: Verdict;
  condition?: string;
  notes: string;
  key: string[];
  series?: Series[];
  skipped?: string;
}

/** Wraps a body into an {@link Experiment}: timing, THP mode, metadata. */
export function defineExperiment(meta: Omit<Experiment, 'run'>, body: () => Outcome): Experiment {
  return {
    ...meta,
    run(): ExperimentResult {
      const t0 = Date.now();
      const out = body();
      const result: ExperimentResult = {
        id: meta.id,
        number: meta.number,
        title: meta.title,
        question: meta.question,
        claim: meta.claim,
        measurements: out.measurements,
        verdict: out.verdict,
        notes: out.notes,
        key: out.key,
        durationMs: Date.now() - t0,
        thpMode: thpMode(),
      };
      if (out.condition !== undefined) result.condition = out.condition;
      if (out.series !== undefined) result.series = out.series;
      if (out.skipped !== undefined) result.skipped = out.skipped;
      // The one convention: a condition that starts "inconclusive" (inconclusiveText) marks a verdict the trials did not decide.
      if (out.verdict === 'depends' && out.condition?.startsWith('inconclusive')) result.inconclusive = true;
      return result;
    },
  };
}

/** The outcome of an experiment that cannot run here. */
export function skippedOutcome(reason: string): Outcome {
  return {
    measurements: [],
    verdict: 'depends',
    condition: `not measured: ${reason}`,
    notes: 'Skipped: nothing was measured, so no verdict is claimed.',
    key: [],
    skipped: reason,
  };
}
