// What a pagewise/metrics reading costs the process it measures, beyond its
// own time: how long the process's other threads wait in mmap/munmap (which
// take mmap_lock for writing) while readings walk the page tables (smaps and
// smaps_rollup hold it for reading). Run from the repository root after
// building dist/: node docs/metrics-lock.js [mappings] [MiB resident] [seconds]
// (defaults 2000, 1024, 3). A worker thread maps and unmaps one page in a loop
// and records each pair's latency, three phases of `seconds` each: the main
// thread idle, reading without categories (statm + smaps_rollup) back to back,
// and reading with categories (adds explain(): full smaps) back to back.
// Prints per phase the pairs done and their latency p50, p99, p99.9, how many
// took over 1 ms, the max (on a loaded 2-CPU machine the max is the scheduler's,
// see the idle phase); and the main thread's CPU time (user + system) per reading.
'use strict';
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const dist = path.join(__dirname, '..', 'dist', 'lib');
const pw = require(path.join(dist, 'index.js'));
const { Sampler, resolveMetricsOptions } = require(path.join(dist, 'metrics', 'sampler.js'));

const count = Number(process.argv[2] || 2000);
const residentMiB = Number(process.argv[3] || 1024);
const seconds = Number(process.argv[4] || 3);
const page = pw.pageSize();
const each = Math.ceil((residentMiB * 2 ** 20) / count / page) * page;
const keep = [];
for (let i = 0; i < count; i++) {
  const m = pw.mmap(each, { noReserve: true });
  if (i % 2) m.advise('nohugepage'); // neighbours differ in flags: not merged
  m.advise('populate_write');
  keep.push(m);
}

const worker = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const pw = require(workerData.index);
   parentPort.on('message', (ms) => {
     const lat = [];
     const end = performance.now() + ms;
     while (performance.now() < end) {
       const t0 = performance.now();
       pw.mmap(workerData.page).unmap();
       lat.push(performance.now() - t0);
     }
     parentPort.postMessage(lat);
   });`,
  { eval: true, workerData: { index: path.join(dist, 'index.js'), page } },
);

function phase(name, work) {
  return new Promise((resolve) => {
    let readings = 0;
    const c0 = pw.getrusage('thread'); // the main thread's CPU only (the worker spins too)
    const t0 = performance.now();
    let done = false;
    worker.once('message', (lat) => {
      done = true;
      const c1 = pw.getrusage('thread');
      const cpuMs = (c1.userMicros - c0.userMicros + c1.systemMicros - c0.systemMicros) / 1000;
      lat.sort((a, b) => a - b);
      const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3);
      const perReading = readings ? `, ${(readings / ((performance.now() - t0) / 1000)).toFixed(1)} readings/s, ${(cpuMs / readings).toFixed(2)} ms of the main thread's CPU per reading` : '';
      console.log(`${name}: ${lat.length} mmap+munmap pairs in the worker, latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, p99.9 ${q(0.999)} ms, over 1 ms ${lat.filter((x) => x > 1).length}, max ${lat[lat.length - 1].toFixed(3)} ms${perReading}`);
      resolve();
    });
    worker.postMessage(seconds * 1000);
    const step = () => {
      if (done) return;
      if (work) {
        work();
        readings++;
      }
      setImmediate(step);
    };
    step();
  });
}

(async () => {
  console.log(`${pw.readMaps().length} VMAs, ${(pw.rss().bytes / 2 ** 20).toFixed(0)} MiB resident (statm), ${count} mappings of ${each / 1024} KiB written; Node ${process.version}, Linux ${require('node:os').release()}, load ${require('node:os').loadavg()[0].toFixed(2)}`);
  const cheap = new Sampler(resolveMetricsOptions({ minIntervalMs: 0, categories: false }));
  const full = new Sampler(resolveMetricsOptions({ minIntervalMs: 0, categoriesIntervalMs: 0 }));
  await phase('idle main thread', null);
  await phase('readings without categories', () => cheap.readNow());
  await phase('readings with categories', () => full.readNow());
  await worker.terminate();
  for (const m of keep) m.unmap();
})();
