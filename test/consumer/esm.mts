// A TypeScript consumer as ESM (module nodenext/node16: .mts; bundler: copied
// to a .ts file). Compiled against the packed tarball by scripts/pack-test.sh
// with TypeScript 5 and 7, --strict, and no `types` setting.
import { mmap, pageSize, Arena, getrusage, residency, readStatus, type Mapping, type Rusage, type ArenaStats } from 'pagewise';
import { experiments } from 'pagewise/experiments';
import { benchmarks } from 'pagewise/bench';

const m: Mapping = mmap(4 * pageSize(), { noReserve: true });
m.view()[0] = 1;
const pages: number = residency(m).pages;
{
  using arena = new Arena({ reserve: 2 ** 24 });
  const block: Uint8Array = arena.alloc(64);
  block[0] = 1;
  const stats: ArenaStats = arena.stats();
  void stats.committed;
}
const r: Rusage = getrusage('thread');
// @ts-expect-error a length must be a number: the shipped declarations are real, not `any`
mmap('64');
m.unmap();
export const total: number = pages + r.minorFaults + experiments.length + benchmarks.length + (readStatus().vmRss ?? 0);
