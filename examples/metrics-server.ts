// An HTTP server whose /metrics shows Node's default metrics and pagewise's:
// resident memory from the exact source, PSS, swap, memory by owner and the
// arenas. The service's three lines are marked; the rest scrapes it twice,
// as Prometheus would, with a cache growing in between.
// Run: npm run build:ts && node dist/examples/metrics-server.js
// (needs prom-client: npm install prom-client)
//
// In Grafana (PromQL), the category that grows, in bytes per hour:
//   topk(3, deriv(pagewise_memory_bytes[30m]) * 3600)
// and how far Node's own RSS figure (from /proc/self/stat) is from the exact one:
//   process_resident_memory_bytes - ignoring(source) pagewise_process_resident_bytes
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'prom-client'; // (1)
import { registerPrometheus } from 'pagewise/metrics'; // (2)
import { Arena } from 'pagewise';

client.collectDefaultMetrics();
// (3) Readings at most once a second here (default: 5 s; categories 60 s), so the example need not wait long.
registerPrometheus(client.register, { minIntervalMs: 1000, categoriesIntervalMs: 1000 });

const server = http.createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  client.register.metrics().then((text) => res.writeHead(200, { 'Content-Type': client.register.contentType }).end(text), (err: Error) => res.writeHead(500).end(err.message));
});

const MiB = 2 ** 20;
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
const cache = new Arena({ name: 'cache' });
const grow = (blocks: number): void => {
  for (let i = 0; i < blocks; i++) cache.alloc(MiB).fill(1);
};

/** One scrape: the series as name{labels} -> value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as AddressInfo;
  grow(8);
  const a = await scrape(port);
  const resident = [...a].find(([k]) => k.startsWith('pagewise_process_resident_bytes'))!;
  console.log(`Node's process_resident_memory_bytes (/proc/self/stat): ${mib(a.get('process_resident_memory_bytes')!)}`);
  console.log(`${resident[0]}: ${mib(resident[1])}`);
  console.log(`pagewise_process_pss_bytes: ${mib(a.get('pagewise_process_pss_bytes')!)}`);
  const cats = [...a].filter(([k]) => k.startsWith('pagewise_memory_bytes'));
  console.log(`pagewise_memory_bytes: ${cats.length} categories adding up to ${mib(cats.reduce((s, [, v]) => s + v, 0))}, among them code, v8-heap and pagewise: ${['code', 'v8-heap', 'pagewise'].every((c) => a.has(`pagewise_memory_bytes{category="${c}"}`))}`);
  console.log(`pagewise_arena_allocated_bytes{arena="cache"}: ${mib(a.get('pagewise_arena_allocated_bytes{arena="cache"}')!)}`);

  grow(8);
  const again = await scrape(port);
  console.log(`scraped again at once: the same reading (minIntervalMs): ${again.get('pagewise_arena_allocated_bytes{arena="cache"}') === a.get('pagewise_arena_allocated_bytes{arena="cache"}')}`);
  await sleep(1100);
  const b = await scrape(port);
  const key = 'pagewise_memory_bytes{category="pagewise"}';
  console.log(`a second later: pagewise_arena_allocated_bytes{arena="cache"} ${mib(b.get('pagewise_arena_allocated_bytes{arena="cache"}')!)}; ${key} grew by ${mib(b.get(key)! - a.get(key)!)}`);
  cache.close();
  server.close();
});

// Output:
// Node's process_resident_memory_bytes (/proc/self/stat): 70.0 MiB
// pagewise_process_resident_bytes{source="statm"}: 70.5 MiB
// pagewise_process_pss_bytes: 32.8 MiB
// pagewise_memory_bytes: 11 categories adding up to 70.5 MiB, among them code, v8-heap and pagewise: true
// pagewise_arena_allocated_bytes{arena="cache"}: 8.0 MiB
// scraped again at once: the same reading (minIntervalMs): true
// a second later: pagewise_arena_allocated_bytes{arena="cache"} 16.0 MiB; pagewise_memory_bytes{category="pagewise"} grew by 8.0 MiB
