// The one way pages talk to the agent: JSON requests and Server-Sent Event streams over fetch.
// Every answer that is not a success becomes an ApiError carrying the standard error body
// (`error`, `error_code`, `details`); a 401 anywhere also tells the shell to show sign-in.

const unauthorizedHandlers = new Set();

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Called with no arguments whenever the agent answers 401 (the session ended or never was). */
export function onUnauthorized(fn) {
  unauthorizedHandlers.add(fn);
  return () => unauthorizedHandlers.delete(fn);
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value != null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

async function failure(res) {
  if (res.status === 401) unauthorizedHandlers.forEach((fn) => fn());
  const body = await res.json().catch(() => null);
  return new ApiError(
    res.status,
    body?.error_code ?? `HTTP_${res.status}`,
    body?.error ?? `the agent answered HTTP ${res.status}`,
    body?.details ?? {},
  );
}

/**
 * fetch() with the dashboard's defaults. `body` objects go as JSON; FormData, Blob and strings
 * as they are. Answers the Response when it is a success (or its status is in `answers`),
 * throws ApiError otherwise.
 */
export async function request(
  path,
  { method = "GET", query, body, headers = {}, signal, accept, answers = [] } = {},
) {
  const init = { method, credentials: "same-origin", signal, headers: { ...headers } };
  if (accept) init.headers.Accept = accept;
  if (body !== undefined) {
    const raw = body instanceof FormData || body instanceof Blob || typeof body === "string";
    init.body = raw ? body : JSON.stringify(body);
    if (!raw) init.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(withQuery(path, query), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "UNREACHABLE", "the agent cannot be reached");
  }
  if (!res.ok && !answers.includes(res.status)) throw await failure(res);
  return res;
}

/** A JSON request; answers the parsed body. */
export async function api(path, options = {}) {
  const res = await request(path, { accept: "application/json", ...options });
  return res.status === 204 ? null : res.json();
}

/** api(), but a 503 that carries a report (health with a failing check) is an answer too. */
export const apiReport = (path, options = {}) => api(path, { answers: [503], ...options });

/**
 * Reads a text/event-stream body. Yields {event, data, id} with `data` parsed as JSON when it
 * is JSON. Ends when the stream ends; aborting the request's signal stops it. `onBytes` is
 * called on every chunk, keep-alive comments included (to notice a stream gone silent).
 */
export async function* readEvents(res, { onBytes } = {}) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let frame = { event: "message", data: [], id: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onBytes?.();
      buffer += value;
      let cut;
      while ((cut = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + (buffer.startsWith("\r\n", cut) ? 2 : 1));
        if (line === "") {
          if (frame.data.length) yield finish(frame);
          frame = { event: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") frame.event = text;
        else if (field === "data") frame.data.push(text);
        else if (field === "id") frame.id = text;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function finish(frame) {
  const text = frame.data.join("\n");
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: passed on as text.
  }
  return { event: frame.event, data, id: frame.id };
}

/** POSTs JSON and yields the events of the SSE answer (chat, model pulls). */
export async function* postStream(path, body, { signal } = {}) {
  const res = await request(path, { method: "POST", body, signal, accept: "text/event-stream" });
  yield* readEvents(res);
}

/**
 * `load` with at most one call in flight and one more queued behind it, so a burst of events
 * costs at most two requests; the queued one is dropped once `signal` (the page's) aborts.
 * Answers the promise of the call in flight.
 */
export function coalesced(load, signal) {
  let running = null;
  let again = false;
  const run = () => {
    if (running) {
      again = true;
      return running;
    }
    running = Promise.resolve()
      .then(load)
      .finally(() => {
        running = null;
        if (again && !signal?.aborted) {
          again = false;
          run();
        }
      });
    return running;
  };
  return run;
}
