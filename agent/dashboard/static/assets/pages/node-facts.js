// A node's facts: system, CPU and memory, membership, capabilities, and the disks, network
// interfaces and GPUs of its newest sample. Built once; live samples rewrite only the text
// that changed (rows are keyed, so a table is rebuilt only when its set of rows changes).

import { h, setText } from "../core/dom.js";
import { bytes, dateTime, duration, pct, rate } from "../core/format.js";
import { num } from "../core/store.js";
import { empty, table } from "../core/ui.js";
import { list, obj } from "./overview-figures.js";

const text = (x) => (x == null || x === "" ? "—" : String(x));
const yesNo = (x) => (x === true ? "yes" : x === false ? "no" : "—");
const mhz = (x) => (num(x) == null ? "—" : num(x) >= 1000 ? `${(num(x) / 1000).toFixed(2)} GHz` : `${num(x).toFixed(0)} MHz`);
const joinNums = (xs) => (Array.isArray(xs) && xs.length ? xs.map((x) => (num(x) == null ? "—" : num(x).toFixed(2))).join(" · ") : "—");
const orDash = (x, fmt) => (num(x) == null ? "—" : fmt(num(x)));

/** A definition list whose values are updated by key: {el, set(key, text)}. */
function factList(label, rows) {
  const cells = new Map();
  const el = h("dl", { className: "facts", "aria-label": label });
  for (const [key, name] of rows) {
    const dd = h("dd", { dataset: { fact: key } }, "—");
    cells.set(key, dd);
    el.append(h("div", { className: "fact" }, h("dt", {}, name), dd));
  }
  return { el, set: (key, value) => setText(cells.get(key), text(value)) };
}

/** A table whose rows follow `items` by key; `cells(item)` answers the row's texts. */
function keyedTable(label, columns, key, cells) {
  const wrap = table(label, columns);
  const rows = new Map();
  const none = empty("None reported.");
  const el = h("div", {}, wrap, none);
  const update = (items) => {
    const keys = items.map(key);
    const same = keys.length === rows.size && keys.every((k) => rows.has(k));
    if (!same) {
      rows.clear();
      wrap.body.replaceChildren(
        ...items.map((item) => {
          const tds = cells(item).map((_, i) => h("td", { className: columns[i].num ? "num" : "" }));
          const tr = h("tr", { dataset: { row: key(item) } }, ...tds);
          rows.set(key(item), tds);
          return tr;
        }),
      );
    }
    for (const item of items) cells(item).forEach((value, i) => setText(rows.get(key(item))[i], text(value)));
    wrap.hidden = items.length === 0;
    none.hidden = items.length > 0;
  };
  return { el, update };
}

export function nodeFacts(panel) {
  const system = factList("System", [
    ["hostname", "Hostname"], ["os", "OS"], ["kernel", "Kernel / release"], ["arch", "Architecture"],
    ["agent_version", "Agent version"], ["python", "Python"], ["uptime", "Uptime"], ["agent_uptime", "Agent uptime"],
    ["boot_time", "Booted"],
  ]);
  const hardware = factList("CPU and memory", [
    ["cores", "CPU cores (logical)"], ["physical", "Physical cores"], ["freq", "CPU frequency"], ["load", "Load (1 · 5 · 15 min)"],
    ["ram_total", "Total RAM"], ["swap_total", "Total swap"], ["gpu_count", "GPUs"],
  ]);
  const member = factList("Membership", [
    ["node_id", "Node id"], ["addresses", "Addresses"], ["peer_port", "Peer port"], ["fingerprint", "Certificate fingerprint"],
    ["version", "Version (as it announced)"], ["joined_at", "Joined"], ["last_seen", "Last heard from"],
  ]);
  const caps = factList("Capabilities", [
    ["remote_exec", "Runs others' tasks"], ["max_tasks", "Tasks at once"], ["tasks_busy", "Tasks running"],
    ["storage_used", "Chunks stored"], ["storage_free", "Room for chunks"], ["llm", "Ollama"], ["models", "Models"],
  ]);
  const disks = keyedTable(
    "Disks",
    ["Mount", "Device", "File system", { label: "Used", num: true }, { label: "Total", num: true }, { label: "Used %", num: true }],
    (d) => String(d.mountpoint),
    (d) => [d.mountpoint, d.device, d.fstype, bytes(num(d.used)), bytes(num(d.total)), pct(num(d.percent))],
  );
  const nics = keyedTable(
    "Network interfaces",
    ["Interface", "Link", { label: "Speed", num: true }, { label: "Receive", num: true }, { label: "Send", num: true }, { label: "Received", num: true }, { label: "Sent", num: true }],
    (n) => String(n.name),
    (n) => [n.name, n.up === true ? "up" : n.up === false ? "down" : "—", num(n.speed_mbps) ? `${n.speed_mbps} Mb/s` : "—", rate(num(n.rx_bytes_per_s)), rate(num(n.tx_bytes_per_s)), bytes(num(n.rx_bytes_total)), bytes(num(n.tx_bytes_total))],
  );
  const gpus = keyedTable(
    "GPUs",
    ["GPU", "Name", { label: "Memory", num: true }, { label: "Busy", num: true }, { label: "Temperature", num: true }, { label: "Power", num: true }],
    (g) => String(g.uuid || g.index),
    (g) => [
      `#${text(g.index)}`, g.name,
      `${bytes(num(g.memory_used))} / ${bytes(num(g.memory_total))}`,
      pct(num(g.utilization_percent)),
      orDash(g.temperature_c, (t) => `${t.toFixed(0)} °C`),
      num(g.power_w) == null ? "—" : `${num(g.power_w).toFixed(0)} W${num(g.power_limit_w) ? ` / ${num(g.power_limit_w).toFixed(0)} W` : ""}`,
    ],
  );

  const sub = (title, body) => h("section", { className: "node-sub" }, h("h3", {}, title), body);
  panel.append(
    h("div", { className: "facts-grid" }, sub("System", system.el), sub("CPU and memory", hardware.el), sub("Membership", member.el), sub("Capabilities", caps.el)),
    sub("Disks", disks.el),
    sub("Network interfaces", nics.el),
    sub("GPUs", gpus.el),
  );

  /** Membership facts: from /api/nodes/{id}, again whenever the member list reloads. */
  const setNode = (node) => {
    member.set("node_id", node.node_id);
    member.set("addresses", (node.addresses ?? []).join(", "));
    member.set("peer_port", node.peer_port);
    member.set("fingerprint", node.fingerprint);
    member.set("version", node.version);
    member.set("joined_at", dateTime(num(node.joined_at)));
    member.set("last_seen", node.is_self ? "this node" : dateTime(num(node.last_seen)));
    const c = obj(node.capabilities) ?? {};
    caps.set("remote_exec", yesNo(c.remote_exec));
    caps.set("max_tasks", c.max_tasks);
    caps.set("tasks_busy", c.tasks_busy);
    caps.set("storage_used", orDash(c.storage_used, bytes));
    caps.set("storage_free", orDash(c.storage_free, bytes));
    const llm = obj(c.llm);
    caps.set("llm", llm ? (llm.up ? `up${llm.version ? ` (v${llm.version})` : ""}` : `down${llm.reason ? `: ${llm.reason}` : ""}`) : "—");
    caps.set("models", llm ? `${list(llm.models).length} on disk · ${list(llm.loaded).length} loaded` : "—");
  };

  /** The parts a sample carries (a remote member's is its own claim: text only). */
  const setSample = (sample) => {
    const t = obj(sample);
    if (!t) return;
    const sys = obj(t.system) ?? {};
    const cpu = obj(t.cpu) ?? {};
    system.set("hostname", sys.hostname);
    system.set("os", sys.os_pretty || sys.os);
    system.set("kernel", [sys.os, sys.os_release].filter(Boolean).join(" "));
    system.set("arch", sys.arch);
    system.set("agent_version", sys.agent_version);
    system.set("python", sys.python);
    system.set("uptime", orDash(sys.uptime_s, duration));
    system.set("agent_uptime", orDash(sys.agent_uptime_s, duration));
    system.set("boot_time", num(sys.boot_time) ? dateTime(num(sys.boot_time)) : "—");
    hardware.set("cores", cpu.count_logical);
    hardware.set("physical", cpu.count_physical);
    hardware.set("freq", mhz(cpu.freq_mhz));
    hardware.set("load", joinNums(cpu.load));
    hardware.set("ram_total", orDash(obj(t.memory)?.total, bytes));
    hardware.set("swap_total", orDash(obj(t.swap)?.total, bytes));
    hardware.set("gpu_count", Array.isArray(t.gpus) ? t.gpus.length : "—");
    disks.update(list(t.disks));
    nics.update(list(t.network));
    gpus.update(list(t.gpus));
  };

  return { setNode, setSample };
}
