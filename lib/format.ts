/** Formatting shared by the lab and the CLI. */

const MiB = 1024 * 1024;
/** Human-readable bytes. */
export function fmtBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(1)} GiB`;
  if (a >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (a >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}
