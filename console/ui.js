// @ts-check
/**
 * Small DOM helpers shared by the pages: `h` builds elements, `table` builds a data table,
 * `showError` puts a dismissible banner above the page, `confirmDialog` asks yes or no in a modal
 * <dialog>, and the `format*` functions render bytes, counts, rates and times. No framework: a
 * page renders by building elements and replacing what it showed before.
 */

/** @typedef {Node | string | number | null | undefined | false | ChildList} Child */
/** @typedef {Array<Child>} ChildList */

/**
 * An element: `attrs` keys `class`, `for`, `on<event>` (listeners), `value` and `checked`
 * (properties), anything else an attribute (`true` -> present, null/undefined/false -> absent).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) setAttr(el, key, value);
  append(el, children);
  return el;
}

/**
 * @param {HTMLElement} el
 * @param {string} key
 * @param {unknown} value
 */
function setAttr(el, key, value) {
  if (value === null || value === undefined || value === false) return;
  if (key.startsWith("on") && typeof value === "function") {
    el.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
  } else if (key === "value" || key === "checked") {
    /** @type {any} */ (el)[key] = value;
  } else {
    el.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
  }
}

/**
 * Appends children (nested arrays flattened; null, undefined and false skipped).
 * @param {Node} el
 * @param {Child[]} children
 */
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/**
 * Removes every child of `el`.
 * @param {Node} el
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * @template T
 * @typedef {object} Column
 * @property {string} label the header
 * @property {keyof T & string} [key] the row's field shown as text (when no `render`)
 * @property {(row: T) => Child} [render] what the cell shows
 * @property {boolean} [numeric] right-aligned, tabular figures
 */

/**
 * A table of `rows`, one `<tr data-key=...>` per row when `opts.rowKey` names it.
 * @template T
 * @param {Column<T>[]} columns
 * @param {T[]} rows
 * @param {{ testid?: string, empty?: string, rowKey?: (row: T) => string }} [opts]
 * @returns {HTMLTableElement}
 */
export function table(columns, rows, opts = {}) {
  const head = h(
    "tr",
    null,
    columns.map((c) => h("th", { class: c.numeric ? "num" : null }, c.label)),
  );
  const body = rows.map((row) =>
    h(
      "tr",
      { "data-key": opts.rowKey ? opts.rowKey(row) : null },
      columns.map((c) => h("td", { class: c.numeric ? "num" : null }, cell(c, row))),
    ),
  );
  if (rows.length === 0)
    body.push(h("tr", null, h("td", { class: "empty", colspan: columns.length }, opts.empty ?? "None")));
  return h(
    "table",
    { class: "table", "data-testid": opts.testid },
    h("thead", null, head),
    h("tbody", null, body),
  );
}

/**
 * @template T
 * @param {Column<T>} column
 * @param {T} row
 * @returns {Child}
 */
function cell(column, row) {
  if (column.render) return column.render(row);
  if (column.key === undefined) return null;
  const value = row[column.key];
  return value === null || value === undefined ? "—" : String(value);
}

/**
 * Shows `err` in a dismissible banner above the page (an ApiError's code beside its message).
 * @param {unknown} err
 * @returns {HTMLElement} the banner
 */
export function showError(err) {
  const area = document.getElementById("banner") ?? document.body;
  const e = /** @type {{ code?: unknown, message?: unknown }} */ (err ?? {});
  const code = typeof e.code === "string" ? e.code : null;
  const message = typeof e.message === "string" ? e.message : String(err);
  const banner = h(
    "div",
    { class: "banner banner-error", role: "alert", "data-testid": "error-banner" },
    code ? h("strong", { "data-testid": "error-code" }, code) : null,
    h("span", { class: "banner-text" }, message),
    h("button", { class: "banner-close", "aria-label": "Dismiss", onclick: () => banner.remove() }, "×"),
  );
  area.appendChild(banner);
  return banner;
}

/**
 * Shows `text` in a dismissible green banner above the page (a change done).
 * @param {string} text
 * @returns {HTMLElement} the banner
 */
export function showNotice(text) {
  const area = document.getElementById("banner") ?? document.body;
  const banner = h(
    "div",
    { class: "banner banner-ok", role: "status", "data-testid": "notice-banner" },
    h("span", { class: "banner-text" }, text),
    h("button", { class: "banner-close", "aria-label": "Dismiss", onclick: () => banner.remove() }, "×"),
  );
  area.appendChild(banner);
  return banner;
}

/** Removes every banner (on a route change). */
export function clearBanners() {
  const area = document.getElementById("banner");
  if (area) clear(area);
}

/**
 * Asks `text` in a modal dialog; resolves true for OK, false for Cancel or Escape.
 * @param {string} text
 * @param {{ ok?: string, danger?: boolean }} [opts]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(text, opts = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", "data-testid": "confirm-dialog" });
    /** @param {boolean} answer */
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    append(dialog, [
      h("p", null, text),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "btn", "data-testid": "confirm-cancel", onclick: () => close(false) }, "Cancel"),
        h(
          "button",
          {
            class: opts.danger ? "btn btn-danger" : "btn btn-primary",
            "data-testid": "confirm-ok",
            onclick: () => close(true),
          },
          opts.ok ?? "OK",
        ),
      ),
    ]);
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/**
 * A page heading with optional actions on the right.
 * @param {string} title
 * @param {...Child} actions
 */
export function pageHeader(title, ...actions) {
  return h("header", { class: "page-header" }, h("h1", null, title), h("div", { class: "actions" }, actions));
}

/**
 * A titled card holding `children`.
 * @param {string} title
 * @param {...Child} children
 */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", null, title) : null, children);
}

/**
 * A labelled form field around `input`.
 * @param {string} label
 * @param {HTMLElement} input
 * @param {string} [hint] a line under the input
 * @param {boolean} [wide] spanning the whole row of a `.form` grid
 */
export function field(label, input, hint, wide = false) {
  return h(
    "label",
    { class: wide ? "field wide" : "field" },
    h("span", null, label),
    input,
    hint ? h("small", { class: "muted" }, hint) : null,
  );
}

/**
 * A figure with a caption, for the rows of numbers at the top of a page.
 * @param {string} label
 * @param {Child} value
 * @param {string} [testid]
 */
export function stat(label, value, testid) {
  return h(
    "div",
    { class: "stat", "data-testid": testid },
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
  );
}

/**
 * Runs `fn` with `button` disabled, showing any error it throws as a banner.
 * @param {HTMLButtonElement} button
 * @param {() => Promise<void>} fn
 */
export async function busy(button, fn) {
  button.disabled = true;
  try {
    await fn();
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}

/**
 * A small coloured label: kind ok, warn, bad or muted.
 * @param {string} text
 * @param {"ok" | "warn" | "bad" | "muted"} [kind]
 */
export function badge(text, kind = "muted") {
  return h("span", { class: `badge badge-${kind}` }, text);
}

/**
 * A link to a hash route.
 * @param {string} hash e.g. `#/topics/orders`
 * @param {Child} text
 * @param {Record<string, unknown>} [attrs]
 */
export function link(hash, text, attrs = {}) {
  return h("a", { href: hash, ...attrs }, text);
}

/**
 * The hash of a route whose segments are encoded: `route("topics", name)` -> `#/topics/<name>`.
 * @param {...string} segments
 */
export function route(...segments) {
  return `#/${segments.map((s) => encodeURIComponent(s)).join("/")}`;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * 1536 -> "1.5 KiB".
 * @param {number | null | undefined} bytes
 */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/**
 * 1234567 -> "1,234,567".
 * @param {number | null | undefined} n
 */
export function formatNumber(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US");
}

/**
 * A per-second rate: 12.345 -> "12.3/s".
 * @param {number | null | undefined} perSecond
 */
export function formatRate(perSecond) {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "—";
  const digits = perSecond < 10 ? 1 : 0;
  return `${perSecond.toLocaleString("en-US", { maximumFractionDigits: digits })}/s`;
}

/**
 * Milliseconds since the epoch as a local ISO-like time, "—" for -1 or none.
 * @param {number | null | undefined} ms
 */
export function formatTime(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const d = new Date(ms);
  const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
