// An append-only log in a file mapping that grows with the file: when the
// mapping is full, grow the file first (a mapped page past the end of a file
// is a SIGBUS), then the mapping with resize() (mremap; it may move).
// Run: npm run build:ts && node dist/examples/append-log.js
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mmap, pageSize } from 'pagewise';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-log-'));
const file = path.join(dir, 'log');
const fd = fs.openSync(file, 'w+');
const page = pageSize();
fs.ftruncateSync(fd, page);
const log = mmap(page, { shared: true, file: { fd } });

let end = 0;
let grown = 0;
function append(record: string): void {
  const bytes = Buffer.from(`${record}\n`);
  if (end + bytes.length > log.length) {
    const size = Math.max(log.length * 2, end + bytes.length);
    fs.ftruncateSync(fd, size); // the file first
    log.resize(size, { mayMove: true }); // then the mapping
    grown++;
  }
  log.view(end, bytes.length).set(bytes); // a fresh window: views over the old range were detached if it moved
  end += bytes.length;
}

for (let i = 0; i < 100_000; i++) append(`record ${i}`);
log.sync();
console.log(`appended 100000 records, ${end} bytes; the mapping grew ${grown > 0 ? 'as needed' : 'never'} and holds ${log.length >= end}`);

const text = fs.readFileSync(file, 'latin1').slice(0, end);
const lines = text.split('\n').slice(0, -1);
console.log(`read back through the file: ${lines.length} lines, first "${lines[0]}", last "${lines[lines.length - 1]}"`);
try {
  log.resize(log.length * 4, { mayMove: true }); // past the end of the file
} catch (err) {
  console.log(`growing past the file: ${(err as NodeJS.ErrnoException).code}`);
}
log.unmap();
fs.closeSync(fd);
fs.rmSync(dir, { recursive: true, force: true });

// Output:
// appended 100000 records, 1288890 bytes; the mapping grew as needed and holds true
// read back through the file: 100000 lines, first "record 0", last "record 99999"
// growing past the file: ERR_OUT_OF_RANGE
