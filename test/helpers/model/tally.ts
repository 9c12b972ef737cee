/** Counters of the model runs, and the error classes every failed call must fall in. */
export interface Tally {
  operations: number;
  hostile: number;
  validationErrors: number;
  systemErrors: number;
  stateErrors: number;
  mappingsCreated: number;
  viewsChecked: number;
  bytesVerified: number;
  residencyChecks: number;
  mapsChecks: number;
  bytesLost: number;
  crashes: number;
}

export function newTally(): Tally {
  return {
    operations: 0, hostile: 0, validationErrors: 0, systemErrors: 0, stateErrors: 0, mappingsCreated: 0,
    viewsChecked: 0, bytesVerified: 0, residencyChecks: 0, mapsChecks: 0, bytesLost: 0, crashes: 0,
  };
}

export function addTally(into: Tally, from: Tally): void {
  for (const k of Object.keys(into) as (keyof Tally)[]) into[k] += from[k];
}

// ---------------------------------------------------------------- errors

/** 'validation' | 'state' | 'system'; throws if the error has none of the allowed shapes. */
export function classify(err: unknown): 'validation' | 'state' | 'system' {
  const e = err as { name?: unknown; code?: unknown; syscall?: unknown; errno?: unknown };
  if ((err instanceof TypeError || err instanceof RangeError) && e.code === 'ERR_INVALID_STATE') return 'state';
  if ((err instanceof TypeError || err instanceof RangeError) && typeof e.code === 'string') return 'validation';
  if (err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string' && typeof e.errno === 'number') return 'system';
  // The arena's own "reservation full": ENOMEM with errno, no system call failed (documented).
  if (err instanceof Error && e.code === 'ENOMEM' && typeof e.errno === 'number') return 'system';
  // A TypeError without a code comes from the engine itself (a private field
  // read on a forged object): still a TypeError, never a crash.
  if (err instanceof TypeError) return 'validation';
  throw new Error(`unexpected error shape: ${String((err as Error)?.name)} ${String(e.code)} ${String((err as Error)?.message)}`);
}
