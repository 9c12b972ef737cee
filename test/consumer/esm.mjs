// A plain ES module program using the installed package (named imports of
// the CommonJS build and the namespace), run on every Node of the matrix.
import { mmap, pageSize, getrusage, rss } from 'pagewise';
import * as pw from 'pagewise';
import { experiments } from 'pagewise/experiments';
const page = pageSize();
const m = mmap(2 * page);
m.view()[page] = 1;
const r = getrusage('thread');
const resident = m.residentPages();
m.unmap();
if (typeof pw.mmap !== 'function' || typeof r.minorFaults !== 'number' || resident !== 1) throw new Error('bad ESM namespace or residency');
if (!(rss().bytes > 0) || !experiments.length) throw new Error('rss or experiments');
console.log(`esm ok: ${process.version}, page ${page}`);
