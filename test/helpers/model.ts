/**
 * A model of what should exist, for the property-based reliability tests and
 * the soak run: random sequences of safe API calls (valid and hostile
 * arguments) are applied to the real kernel and to this model, and after
 * every step the two must agree: /proc/self/maps holds every live mapping with
 * the modelled protection per page, mincore residency matches where the model
 * knows it exactly, every view has the modelled length (0 once detached), and
 * every byte written reads back unless a call that may discard it was made.
 * Every error must be a TypeError, a RangeError, or a system error with
 * `code`, `errno` and `syscall`.
 */
export { addTally, classify, newTally, type Tally } from './model/tally';
export { readMaps, thpMayWiden } from './model/kernel';
export { HOSTILE_NAMES, HOSTILE_NUMBERS, HOSTILE_OPTIONS, MAX_PAGES, opArb, type Op } from './model/ops';
export { World, scratchDir } from './model/world';
