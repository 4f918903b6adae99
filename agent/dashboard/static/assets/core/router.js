// Client-side routing: one URL per page, history back/forward, deep links. Each page is an
// entry of app.js's PAGES ({id, title, nav, paths, load}) whose module's default export has
// `mount(view, ctx)` (see docs/dashboard.md); its context's subscriptions, timers and requests
// all end when the page is left.

import * as events from "./events.js";
import { onCluster } from "./store.js";
import { errorBox } from "./ui.js";

const routes = [];
let current = null; // {page, cleanups, controller}
let view = null;
let onRouted = () => {};
let notFound = null;

function compile(path) {
  const keys = [];
  const source = path
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const rest = part.endsWith("*");
      keys.push(part.slice(1).replace(/\*$/, ""));
      return rest ? "(.*)" : "([^/]+)";
    })
    .join("/");
  return { regex: new RegExp(`^${source}/?$`), keys };
}

export function register(page) {
  for (const path of page.paths) routes.push({ ...compile(path), page });
}

export function setNotFound(page) {
  notFound = page;
}

function match(pathname) {
  for (const route of routes) {
    const found = route.regex.exec(pathname);
    if (!found) continue;
    const params = {};
    route.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(found[i + 1] ?? "");
    });
    return { page: route.page, params };
  }
  return { page: notFound, params: {} };
}

function unmount() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups.splice(0)) {
    try {
      fn();
    } catch (err) {
      console.error("page cleanup failed", err);
    }
  }
  current = null;
}

function context(params, cleanups, controller) {
  const every = (ms, fn) => {
    // Only for what no event announces (health, metrics); skipped while the tab is hidden.
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") fn();
    }, ms);
    cleanups.push(() => clearInterval(timer));
  };
  return {
    params,
    query: new URLSearchParams(location.search),
    signal: controller.signal,
    on: (prefix, fn) => cleanups.push(events.on(prefix, fn)),
    onCluster: (fn) => cleanups.push(onCluster(fn)),
    onCleanup: (fn) => cleanups.push(fn),
    every,
    navigate,
    /** Replaces the query string without a new history entry (filters, selections). */
    setQuery(values) {
      const q = new URLSearchParams(location.search);
      for (const [key, value] of Object.entries(values)) {
        if (value == null || value === "") q.delete(key);
        else q.set(key, value);
      }
      const text = q.toString();
      history.replaceState(null, "", `${location.pathname}${text ? `?${text}` : ""}`);
    },
  };
}

let rendered = 0;

export async function render() {
  rendered += 1;
  unmount();
  const { page, params } = match(location.pathname);
  const cleanups = [];
  const controller = new AbortController();
  const mine = { page, cleanups, controller };
  current = mine;
  view.replaceChildren();
  view.dataset.page = page.id;
  onRouted(page);
  try {
    const module = await page.load();
    if (current !== mine) return;
    const cleanup = await module.default.mount(view, context(params, cleanups, controller));
    if (typeof cleanup === "function") cleanups.push(cleanup);
    // After a navigation (not the first load), the new page's heading takes the focus, so a
    // screen reader announces where the user landed.
    if (rendered > 1 && current === mine) view.querySelector(".page-title")?.focus({ preventScroll: true });
  } catch (err) {
    if (err.name === "AbortError" || err.status === 401) return;
    console.warn(`page ${page.id} failed to load`, err);
    if (current === mine) view.replaceChildren(errorBox(err, `${page.title} could not load`));
  }
}

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (target.href === location.href && !replace) return;
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  render();
}

function isAppLink(a, event) {
  if (!a || event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  if (a.target || a.hasAttribute("download") || a.origin !== location.origin) return false;
  return !/^\/(api|v1|assets|login|join|peer|mcp)(\/|$)/.test(a.pathname);
}

export function start(viewElement, routed) {
  view = viewElement;
  onRouted = routed;
  document.addEventListener("click", (event) => {
    const a = event.target.closest?.("a[href]");
    if (!isAppLink(a, event)) return;
    event.preventDefault();
    navigate(a.href);
  });
  addEventListener("popstate", () => render());
  render();
}

export const currentPage = () => current?.page ?? null;
