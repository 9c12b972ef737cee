// A plain CommonJS program using the installed package (scripts/pack-test.sh
// runs it on every Node of the matrix).
const pw = require('pagewise');
const page = pw.pageSize();
const m = pw.mmap(4 * page);
const v = m.view();
v[0] = 7;
v[3 * page] = 9;
const resident = m.residentPages();
m.unmap();
if (resident !== 2 || v.byteLength !== 0) throw new Error(`resident ${resident}, view length after unmap ${v.byteLength}`);
const a = new pw.Arena({ reserve: 2 ** 24 });
a.free(a.alloc(100));
a.close();
console.log(`cjs ok: ${process.version}, page ${page}, resident ${resident}`);
