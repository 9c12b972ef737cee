// A TypeScript consumer as CommonJS (module nodenext/node16: .cts).
import pw = require('pagewise');
import type { Mapping } from 'pagewise';

const m: Mapping = pw.mmap(pw.pageSize());
// @ts-expect-error an unknown advice is a type error
m.advise('sometimes');
m.advise('dontneed');
m.unmap();
export const faults: number = pw.getrusage('thread').minorFaults;
