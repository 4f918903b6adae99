// OpenFabric live status page. Plain ES module, no dependencies, no inline code (CSP-friendly).
// Status, nodes and health are fetched every few seconds; this node's telemetry arrives live
// over Server-Sent Events (EventSource reconnects with Last-Event-ID by itself).

const REFRESH_MS = 5000;
const SPARK_WINDOW_S = 60;
const TOPIC = "node.telemetry";
const CONN_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
  offline: "Offline", "signed-out": "Signed out" };

const $ = (id) => document.getElementById(id);
const state = { selfId: null, source: null, history: [], updates: 0, latest: null };

class Unauthorized extends Error {}

// ---- formatting -------------------------------------------------------------------------

function fmtBytes(n) {
  if (n == null || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let [v, i] = [n, 0];
  for (; Math.abs(v) >= 1024 && i < units.length - 1; i += 1) v /= 1024;
  return `${v.toFixed(i === 0 || v >= 100 ? 0 : 1)} ${units[i]}`;
}

const fmtPct = (p) => (p == null || !Number.isFinite(p) ? "—" : `${p.toFixed(1)}%`);

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds ?? 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

function fmtAgo(ts) {
  if (!ts) return "never";
  const age = Date.now() / 1000 - ts;
  return age < 2 ? "just now" : `${fmtDuration(age)} ago`;
}

const level = (fraction) => (fraction >= 0.9 ? "high" : fraction >= 0.7 ? "mid" : "low");
const clamp01 = (x) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

function setBar(el, fraction) {
  const f = clamp01(fraction);
  el.style.width = `${(f * 100).toFixed(1)}%`;
  el.dataset.level = level(f);
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function setPair(id, main, rest) {
  $(id).replaceChildren(main, node("small", {}, ` / ${rest}`));
}

function node(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(el.dataset, value);
    else el[key] = value;
  }
  el.append(...children);
  return el;
}

// ---- API --------------------------------------------------------------------------------

async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 401) throw new Unauthorized("not signed in");
  const body = await res.json().catch(() => null);
  // /api/health answers 503 with a full report when a check fails; that is still an answer.
  if (!res.ok && !(path === "/api/health" && body)) {
    throw new Error(body?.error ?? `${path} answered HTTP ${res.status}`);
  }
  return body;
}

// ---- rendering --------------------------------------------------------------------------

function setConn(kind) {
  const el = $("conn");
  if (el.dataset.state === kind) return;
  el.dataset.state = kind;
  setText("conn-text", CONN_TEXT[kind]);
}

function renderHealth(health) {
  const el = $("health");
  const status = health?.status ?? "unknown";
  el.dataset.status = status;
  el.textContent = status[0].toUpperCase() + status.slice(1);
  const checks = (health?.checks ?? []).map((c) => `${c.name}: ${c.status} — ${c.detail}`);
  el.title = checks.join("\n") || "Health checks unavailable";
  el.setAttribute("aria-label", `Health: ${status}. ${checks.join("; ")}`);
}

function renderStatus(s) {
  setText("node-name", s.node_name);
  document.title = `${s.node_name} · OpenFabric`;
  setText("version", `v${s.version}`);
  setText("uptime", fmtDuration(s.uptime_s));
  $("sub").hidden = false;
  setPair("sum-nodes", String(s.online_count), String(s.node_count));
  const offline = s.node_count - s.online_count;
  setText("sum-nodes-sub", offline ? `${offline} not online` : "all nodes online");
  const ramUsed = s.ram.total - s.ram.available;
  setPair("sum-ram", fmtBytes(ramUsed), fmtBytes(s.ram.total));
  setBar($("sum-ram-bar"), ramUsed / s.ram.total);
  setPair("sum-disk", fmtBytes(s.storage.free), fmtBytes(s.storage.total));
  setBar($("sum-disk-bar"), 1 - s.storage.free / s.storage.total);
  setText("sum-gpu", String(s.gpu_count));
  setText("sum-vram", s.gpu_count
    ? `${fmtBytes(s.vram.used)} / ${fmtBytes(s.vram.total)} VRAM used`
    : "no GPUs detected");
}

function renderNodes(nodes) {
  const rows = nodes.map((n) => {
    const r = n.resources ?? {};
    const live = n.is_self && state.latest ? state.latest : null;
    const name = node("td", { className: "name" }, n.name);
    if (n.is_self) name.append(" ", node("span", { className: "tag" }, "this node"));
    const cpu = live ? live.cpu.percent : r.cpu_percent;
    const ramUsed = r.ram_total ? `${fmtBytes(r.ram_total - r.ram_available)} / ${fmtBytes(r.ram_total)}` : "—";
    return node("tr", { dataset: { nodeId: n.node_id } },
      name,
      node("td", {}, node("span", { className: "state", dataset: { state: n.state } }, n.state)),
      node("td", { className: "num cpu" }, fmtPct(cpu)),
      node("td", { className: "num" }, ramUsed),
      node("td", { className: "num" }, r.storage_total ? fmtBytes(r.storage_free) : "—"),
      node("td", { className: "num" }, String(r.gpu_count ?? 0)),
      node("td", { className: "num seen" }, fmtAgo(live ? live.ts : n.last_seen)));
  });
  if (!rows.length) {
    rows.push(node("tr", {}, node("td", { colSpan: 7, className: "muted" }, "No nodes known yet.")));
  }
  $("nodes").replaceChildren(...rows);
}

function renderCores(perCore) {
  const box = $("cores");
  box.dataset.many = String(perCore.length > 32);
  const n = perCore.length;
  setText("cores-detail", n ? `${n} logical core${n === 1 ? "" : "s"}` : "per-core usage unavailable");
  while (box.children.length > perCore.length) box.lastChild.remove();
  while (box.children.length < perCore.length) {
    box.append(node("div", { className: "core" }, node("span")));
    box.lastChild.setAttribute("role", "listitem");
  }
  perCore.forEach((p, i) => {
    const el = box.children[i];
    const label = `Core ${i}: ${fmtPct(p)}`;
    el.title = label;
    el.setAttribute("aria-label", label);
    el.firstChild.style.height = `${(clamp01(p / 100) * 100).toFixed(1)}%`;
    el.firstChild.dataset.level = level(p / 100);
  });
}

function renderLive(sample) {
  const { cpu, memory, swap, system } = sample;
  setText("cpu-total", fmtPct(cpu.percent));
  setText("cpu-load", (cpu.load ?? []).map((x) => x.toFixed(2)).join(" · ") || "—");
  renderCores(cpu.per_core ?? []);
  setText("mem-pct", fmtPct(memory.percent));
  setBar($("mem-bar"), memory.percent / 100);
  setText("mem-detail",
    `${fmtBytes(memory.used)} of ${fmtBytes(memory.total)} · ${fmtBytes(memory.available)} available`);
  setText("swap-detail", swap?.total ? `swap ${fmtBytes(swap.used)} of ${fmtBytes(swap.total)}` : "");
  if (system) {
    const parts = [system.hostname, system.os_pretty, system.arch, system.python && `Python ${system.python}`];
    setText("sys-info", parts.filter(Boolean).join(" · "));
  }
  state.history.push({ ts: sample.ts, v: cpu.percent });
  state.history = state.history.filter((p) => p.ts >= sample.ts - SPARK_WINDOW_S);
  drawSpark();
}

function drawSpark() {
  const canvas = $("spark");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const css = getComputedStyle(canvas);
  ctx.strokeStyle = css.getPropertyValue("--grid").trim();
  ctx.lineWidth = 1;
  for (const f of [0.25, 0.5, 0.75]) {
    ctx.beginPath();
    ctx.moveTo(0, Math.round(h * f) + 0.5);
    ctx.lineTo(w, Math.round(h * f) + 0.5);
    ctx.stroke();
  }
  const pts = state.history;
  if (pts.length < 2) return;
  const now = pts.at(-1).ts;
  const x = (p) => w - ((now - p.ts) / SPARK_WINDOW_S) * w;
  const y = (p) => h - 2 - clamp01(p.v / 100) * (h - 4);
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(x(p), y(p)) : ctx.moveTo(x(p), y(p))));
  const accent = css.getPropertyValue("--accent").trim();
  ctx.strokeStyle = accent;
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  ctx.stroke();
  ctx.lineTo(x(pts.at(-1)), h);
  ctx.lineTo(x(pts[0]), h);
  ctx.closePath();
  ctx.globalAlpha = 0.18;
  ctx.fillStyle = accent;
  ctx.fill();
  ctx.globalAlpha = 1;
}

// ---- live stream ------------------------------------------------------------------------

function onSample(sample) {
  if (sample.node_id !== state.selfId) return;
  state.latest = sample;
  renderLive(sample);
  state.updates += 1;
  $("cpu-total").dataset.updates = String(state.updates);
  const row = document.querySelector(`tr[data-node-id="${CSS.escape(sample.node_id)}"]`);
  if (row) {
    row.querySelector(".cpu").textContent = fmtPct(sample.cpu.percent);
    row.querySelector(".seen").textContent = fmtAgo(sample.ts);
  }
}

function connect() {
  const source = new EventSource(`/api/events?topics=${TOPIC}`);
  state.source = source;
  setConn("connecting");
  source.onopen = () => setConn("live");
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (agent refused the stream); the next refresh opens a new one.
      state.source = null;
      setConn("offline");
    } else {
      setConn("reconnecting");
    }
  };
  source.addEventListener(TOPIC, (ev) => onSample(JSON.parse(ev.data)));
}

// ---- page state -------------------------------------------------------------------------

function showSignedOut() {
  $("signin").hidden = false;
  $("signout").hidden = true;
  $("content").hidden = true;
  $("error").hidden = true;
  state.source?.close();
  state.source = null;
  setConn("signed-out");
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
  if (!state.source) setConn("offline");
}

async function refresh() {
  api("/api/health").then(renderHealth, () => renderHealth(null));
  try {
    const [status, nodes] = await Promise.all([api("/api/status"), api("/api/nodes")]);
    state.selfId = status.node_id;
    $("signin").hidden = true;
    $("signout").hidden = false;
    $("error").hidden = true;
    $("content").hidden = false;
    renderStatus(status);
    const self = nodes.nodes.find((n) => n.is_self);
    if (!state.latest && self?.telemetry) renderLive({ ...self.telemetry, node_id: self.node_id });
    renderNodes(nodes.nodes);
    if (!state.source) connect();
  } catch (err) {
    if (err instanceof Unauthorized) showSignedOut();
    else showError(`Cannot reach the agent (${err.message}); retrying…`);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

async function signOut() {
  // Ends the session on the agent too: a copied cookie is worthless afterwards.
  await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => null);
  showSignedOut();
}

$("signout").addEventListener("click", signOut);
window.addEventListener("resize", drawSpark);
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawSpark);
refresh();
