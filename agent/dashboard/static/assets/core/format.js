// Number, size and time formatting shared by every page.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (n == null || !Number.isFinite(n)) return "—";
  let [v, i] = [n, 0];
  for (; Math.abs(v) >= 1024 && i < UNITS.length - 1; i += 1) v /= 1024;
  return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${UNITS[i]}`;
}

export const pct = (p) => (p == null || !Number.isFinite(p) ? "—" : `${p.toFixed(1)}%`);

export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  if (seconds < 10 && seconds > 0 && s < seconds) return `${seconds.toFixed(1)}s`;
  return `${s}s`;
}

export function ago(ts) {
  if (!ts) return "never";
  const age = Date.now() / 1000 - ts;
  return age < 2 ? "just now" : `${duration(age)} ago`;
}

export function time(ts) {
  if (!ts) return "—";
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

export function dateTime(ts) {
  if (!ts) return "—";
  return new Date(ts * 1000).toLocaleString([], { hour12: false });
}

export function rate(bytesPerSecond) {
  return bytesPerSecond == null ? "—" : `${bytes(bytesPerSecond)}/s`;
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

export const clamp01 = (x) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/** "low" | "mid" | "high": the colour band of a used fraction. */
export const level = (fraction) => (fraction >= 0.9 ? "high" : fraction >= 0.7 ? "mid" : "low");

export const shortId = (id) => (id ? String(id).slice(0, 8) : "—");
