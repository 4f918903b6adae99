// What a member's latest sample says, as checked numbers. A remote member's sample is its own
// claim (and may come from another version), so every number goes through num() and a
// missing part falls back to the resources /api/nodes reported, or to "unknown" (null).

import { num } from "../core/store.js";

const obj = (x) => (x && typeof x === "object" && !Array.isArray(x) ? x : null);
const list = (x) => (Array.isArray(x) ? x.filter((item) => obj(item)) : []);
const positive = (x) => {
  const n = num(x);
  return n != null && n > 0 ? n : null;
};

/** Sum of `key` over `items`; null when no item has a usable number. */
function sum(items, key) {
  let total = null;
  for (const item of items) {
    const n = num(item[key]);
    if (n != null) total = (total ?? 0) + n;
  }
  return total;
}

/**
 * {ts, cpu, cores, ramUsed, ramTotal, diskUsed, diskFree, diskTotal, gpuCount, vramUsed,
 * vramTotal}
 * of a ClusterNode; any figure may be null (unknown).
 */
export function figures(node) {
  const t = obj(node?.telemetry);
  const r = obj(node?.resources) ?? {};
  const cpu = obj(t?.cpu);
  const memory = obj(t?.memory);
  const storage = obj(t?.storage);
  const gpus = t && Array.isArray(t.gpus) ? list(t.gpus) : null;

  const ramTotal = positive(memory?.total) ?? positive(r.ram_total);
  const available = memory ? num(memory.available) : num(r.ram_available);
  const diskTotal = positive(storage?.total) ?? positive(r.storage_total);
  let diskUsed = num(storage?.used);
  if (diskUsed == null && diskTotal != null && num(r.storage_free) != null) {
    diskUsed = diskTotal - num(r.storage_free);
  }
  const vramTotal = gpus ? sum(gpus, "memory_total") : num(r.vram_total);
  return {
    ts: num(t?.ts),
    cpu: num(cpu?.percent) ?? num(r.cpu_percent),
    cores: positive(cpu?.count_logical) ?? positive(r.cpu_cores),
    ramUsed: ramTotal != null && available != null ? ramTotal - available : null,
    ramTotal,
    diskUsed,
    diskFree: storage ? num(storage.free) : num(r.storage_free),
    diskTotal,
    gpuCount: gpus ? gpus.length : num(r.gpu_count),
    vramUsed: gpus ? sum(gpus, "memory_used") : num(r.vram_used),
    vramTotal: vramTotal != null && vramTotal > 0 ? vramTotal : null,
  };
}

/** used / total as a fraction, or null when either is unknown. */
export const share = (used, total) => (used != null && total ? used / total : null);

/** The sums over online members (what the pooled totals count). */
export function pooled(nodes) {
  const online = nodes.filter((n) => n.state === "online");
  const total = { nodes: nodes.length, online: online.length };
  for (const key of ["cores", "ramUsed", "ramTotal", "diskUsed", "diskFree", "diskTotal", "gpuCount", "vramUsed", "vramTotal"]) {
    total[key] = 0;
  }
  for (const node of online) {
    const f = figures(node);
    for (const key of Object.keys(total)) {
      if (key !== "nodes" && key !== "online") total[key] += f[key] ?? 0;
    }
  }
  return total;
}

export { obj, list };
