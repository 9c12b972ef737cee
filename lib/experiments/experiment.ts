/** The shape of an experiment and its result. */

/** What the measurements say about the claim. */
export type Verdict = 'confirmed' | 'refuted' | 'depends';

/** One number (or fact) with its unit and where it came from. */
export interface ExperimentMeasurement {
  /** What was measured, e.g. `'faults writing 256 pages'`. */
  name: string;
  /** The value; strings for facts such as a THP mode or an errno code, `null` when it could not be measured. */
  value: number | string | boolean | null;
  /** Unit: `'bytes'`, `'pages'`, `'faults'`, `'ns/page'`, `'µs'`, `'count'`, `''` for facts. */
  unit: string;
  /** The source of the number: `'getrusage(RUSAGE_THREAD)'`, `'/proc/self/smaps'`, `'mincore'`, `'pagewise-probe'`, ... */
  source: string;
}

/** A data series for charts (`pagewise report`). */
export interface Series {
  /** Legend name. */
  name: string;
  /** X values. */
  x: number[];
  /** Y values, one per x. */
  y: number[];
  /** Labels of the points (optional, e.g. the stages of an experiment). */
  labels?: string[];
  /** Axis units. */
  xUnit: string;
  yUnit: string;
  /** Trials behind each y value (then the median of them); absent: each point is one run. */
  trials?: number[];
  /** The lowest trial behind each y value, where there were several. */
  lo?: number[];
  /** The highest trial behind each y value, where there were several. */
  hi?: number[];
}

/** The structured result of one experiment. */
export interface ExperimentResult {
  /** Stable identifier, e.g. `'zero-fill'`. */
  id: string;
  /** 1-based number in the order of the design's questions. */
  number: number;
  /** Short title. */
  title: string;
  /** The classic question it answers. */
  question: string;
  /** The claim tested (from the classic answers or the documentation). */
  claim: string;
  /** Everything measured, with units and sources. */
  measurements: ExperimentMeasurement[];
  /** Computed from the measurements, never written by hand. */
  verdict: Verdict;
  /** For `'depends'` (and refinements of the others): the condition, with figures. */
  condition?: string;
  /** What the numbers mean, in a sentence or two. */
  notes: string;
  /** Names of the measurements the CLI table shows. */
  key: string[];
  /**
   * Set when the verdict is `'depends'` because the interval of the trials
   * straddled the claim's threshold (the condition starts "inconclusive"):
   * the figures did not decide here, which says nothing about the claim.
   */
  inconclusive?: true;
  /** Set when the experiment could not run here (e.g. the probe is not built); the verdict is then `'depends'`. */
  skipped?: string;
  /** Chart data for the HTML report. */
  series?: Series[];
  /** Wall-clock time the experiment took, in milliseconds. */
  durationMs: number;
  /** THP mode the experiment ran under (`/sys/kernel/mm/transparent_hugepage/enabled`). */
  thpMode: string | null;
}

/** An experiment: metadata plus the function that runs it. */
export interface Experiment {
  id: string;
  number: number;
  title: string;
  question: string;
  claim: string;
  /** Runs on real memory; synchronous (each finishes in seconds). */
  run(): ExperimentResult;
}
