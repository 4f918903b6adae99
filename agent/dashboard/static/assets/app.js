// The dashboard's shell: navigation, the connection indicator, theme, sign-in and sign-out.
// Pages live in pages/, one module each, listed in PAGES (docs/dashboard.md).

import { api, onUnauthorized } from "./core/api.js";
import { $, h, setText } from "./core/dom.js";
import * as events from "./core/events.js";
import * as router from "./core/router.js";
import * as store from "./core/store.js";

// Every page, in navigation order. A page's module loads when it is first shown, so a page
// that fails to load breaks only itself. `nav: null`: reachable by link only; `section`: the
// nav entry it belongs to.
const PAGES = [
  { id: "overview", title: "Overview", nav: "Overview", paths: ["/"], load: () => import("./pages/overview.js") },
  { id: "node", title: "Node", nav: null, section: "overview", paths: ["/nodes/:id"], load: () => import("./pages/node.js") },
  { id: "tasks", title: "Tasks", nav: "Tasks", paths: ["/tasks", "/tasks/:id"], load: () => import("./pages/tasks.js") },
  { id: "storage", title: "Storage", nav: "Storage", paths: ["/storage", "/storage/:path*"], load: () => import("./pages/storage.js") },
  { id: "brain", title: "Brain", nav: "Brain", paths: ["/brain"], load: () => import("./pages/brain.js") },
  { id: "memory", title: "Memory", nav: "Memory", paths: ["/memory"], load: () => import("./pages/memory.js") },
  { id: "flows", title: "Flows", nav: "Flows", paths: ["/flows"], load: () => import("./pages/flows.js") },
  { id: "tools", title: "Tools", nav: "Tools", paths: ["/tools"], load: () => import("./pages/mcp.js") },
  { id: "models", title: "Models & chat", nav: "Models & chat", paths: ["/models", "/chat", "/chat/:session"], load: () => import("./pages/models.js") },
  { id: "cluster", title: "Cluster", nav: "Cluster", paths: ["/cluster"], load: () => import("./pages/cluster.js") },
  { id: "health", title: "Health", nav: "Health", paths: ["/health"], load: () => import("./pages/health.js") },
];
const NOT_FOUND = { id: "not-found", title: "Not found", paths: [], load: () => import("./pages/not-found.js") };
const CONN_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  "signed-out": "Signed out",
};
const SIGNED_OUT_CHECK_MS = 3000;

let signedIn = false;
let signedOutTimer = null;

function buildNav() {
  const list = $("#nav-list");
  for (const page of PAGES.filter((p) => p.nav)) {
    list.append(h("li", {}, h("a", { href: page.paths[0], dataset: { page: page.id } }, page.nav)));
  }
  $("#nav-toggle").addEventListener("click", () => {
    const open = $("#nav").dataset.open !== "true";
    $("#nav").dataset.open = String(open);
    $("#nav-toggle").setAttribute("aria-expanded", String(open));
  });
}

function routed(page) {
  for (const a of document.querySelectorAll("#nav-list a")) {
    const active = a.dataset.page === (page.section ?? page.id);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("#nav").dataset.open = "false";
  $("#nav-toggle").setAttribute("aria-expanded", "false");
  const name = store.cluster.status?.node_name;
  document.title = `${page.title}${name ? ` · ${name}` : ""} · OpenFabric`;
}

// ---- theme ------------------------------------------------------------------------------

const THEMES = ["system", "light", "dark"];

function applyTheme(choice) {
  const dark = choice === "dark" || (choice === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  const button = $("#theme");
  setText(button, { system: "Theme: auto", light: "Theme: light", dark: "Theme: dark" }[choice]);
  button.setAttribute("aria-label", `Colour theme: ${choice === "system" ? "follow the system" : choice}. Change`);
  document.dispatchEvent(new CustomEvent("themechange"));
}

function setupTheme() {
  let choice = localStorage.getItem("openfabric.theme");
  if (!THEMES.includes(choice)) choice = "system";
  applyTheme(choice);
  $("#theme").addEventListener("click", () => {
    choice = THEMES[(THEMES.indexOf(choice) + 1) % THEMES.length];
    localStorage.setItem("openfabric.theme", choice);
    applyTheme(choice);
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (choice === "system") applyTheme(choice);
  });
}

// ---- session ----------------------------------------------------------------------------

function showSignedOut() {
  if (!signedIn && !$("#signin").hidden) return;
  signedIn = false;
  events.stop("signed-out");
  $("#signin").hidden = false;
  $("#view").hidden = true;
  $("#signout").hidden = true;
  $("#nav").hidden = true;
  // Signing in happens in another tab (the link `openfabric dashboard` opens); notice it.
  clearInterval(signedOutTimer);
  signedOutTimer = setInterval(tryResume, SIGNED_OUT_CHECK_MS);
}

async function tryResume() {
  try {
    await api("/api/status");
  } catch {
    return;
  }
  clearInterval(signedOutTimer);
  location.reload();
}

function showSignedIn() {
  signedIn = true;
  $("#signin").hidden = true;
  $("#view").hidden = false;
  $("#signout").hidden = false;
  $("#nav").hidden = false;
}

async function signOut() {
  // Ends the session on the agent too, so a copied cookie is worthless afterwards.
  await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => null);
  showSignedOut();
}

function setConn(state) {
  const el = $("#conn");
  el.dataset.state = state;
  setText($("#conn-text"), CONN_TEXT[state] ?? state);
}

async function boot() {
  buildNav();
  setupTheme();
  onUnauthorized(showSignedOut);
  events.onStatus(setConn);
  $("#signout").addEventListener("click", signOut);
  document.addEventListener("visibilitychange", () => {
    if (!signedIn && document.visibilityState === "visible") tryResume();
  });
  try {
    await store.reload();
  } catch (err) {
    if (err.status === 401) return showSignedOut();
    // Unreachable or failing: the pages say so themselves, and the stream keeps retrying.
  }
  showSignedIn();
  const status = store.cluster.status;
  if (status) {
    setText($("#node-name"), status.node_name);
    setText($("#version"), `v${status.version}`);
    $("#sub").hidden = false;
  }
  store.start();
  events.start();
  for (const page of PAGES) router.register(page);
  router.setNotFound(NOT_FOUND);
  router.start($("#view"), routed);
}

boot();
