/**
 * The two tiers of the suite. `npm test` is the fast tier: every test runs,
 * the random (property) tests with fewer sequences. `.ci/run` sets
 * `PAGEWISE_TIER=full` for their full length (and runs the runtimes, qemu,
 * ASan and pack stages besides). An explicit count (`PROPERTY_SEQUENCES`,
 * `PAGEWISE_RUNS`) wins over either tier.
 */
export const fullTier = process.env.PAGEWISE_TIER === 'full';

/** `full` runs in the full tier, `fast` in the fast one, unless `explicit` (an environment count) is set. */
export function tierCount(explicit: string | undefined, full: number, fast: number): number {
  return explicit !== undefined ? Number(explicit) : fullTier ? full : fast;
}
