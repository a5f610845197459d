// @ts-check
/**
 * Records as the message browser shows them (pages/browse.js): the shape of
 * `GET /topics/{topic}/messages` (broker/http/messages.ts), the live tail's records
 * (broker/http/tail.ts, records.ts' shape) turned into it, a key's or value's cell (JSON
 * pretty-printed; binary as its UTF-8 text, hex or base64), the headers' cell, and the export of
 * shown records as JSON lines. Also `stylesheet(href)`, which adds the browser's and security
 * page's stylesheet once.
 */
import { h } from "./ui.js";

/**
 * @typedef {object} ShownHeader
 * @property {string} key
 * @property {string | null} value
 * @property {"utf8" | "base64"} encoding
 */
/**
 * @typedef {object} ShownRecord
 * @property {number} partition
 * @property {number} offset
 * @property {number} timestamp
 * @property {unknown} key
 * @property {"json" | "binary"} key_format
 * @property {string | null} key_hex
 * @property {string | null} key_text
 * @property {unknown} value
 * @property {"json" | "binary"} value_format
 * @property {string | null} value_hex
 * @property {string | null} value_text
 * @property {ShownHeader[]} headers
 */
/** @typedef {"text" | "hex" | "base64"} BinaryView */

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * @param {string} base64
 * @returns {Uint8Array}
 */
function fromBase64(base64) {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** @param {Uint8Array} bytes */
function hexOf(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** @param {Uint8Array} bytes */
function textOf(bytes) {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A live-tail record (records.ts' shape: binary and header values as base64) as the browser's.
 * @param {any} r
 * @returns {ShownRecord}
 */
export function fromTail(r) {
  /** @param {unknown} data @param {string} format */
  const extra = (data, format) => {
    if (format !== "binary" || typeof data !== "string") return { hex: null, text: null };
    const bytes = fromBase64(data);
    return { hex: hexOf(bytes), text: textOf(bytes) };
  };
  const key = extra(r.key, r.key_format);
  const value = extra(r.value, r.value_format);
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    key_format: r.key_format,
    key_hex: key.hex,
    key_text: key.text,
    value: r.value,
    value_format: r.value_format,
    value_hex: value.hex,
    value_text: value.text,
    headers: (r.headers ?? []).map((/** @type {{ key: string, value: string | null }} */ hd) => {
      if (hd.value === null) return { key: hd.key, value: null, encoding: "utf8" };
      const text = textOf(fromBase64(hd.value));
      return text === null
        ? { key: hd.key, value: hd.value, encoding: "base64" }
        : { key: hd.key, value: text, encoding: "utf8" };
    }),
  };
}

/**
 * The cell of a key or value: null as "null", JSON pretty-printed, binary per `view` (its UTF-8
 * text under "text" when it has one, else hex).
 * @param {ShownRecord} r
 * @param {"key" | "value"} which
 * @param {BinaryView} view
 */
export function bytesCell(r, which, view) {
  const data = which === "key" ? r.key : r.value;
  const format = which === "key" ? r.key_format : r.value_format;
  if (data === null) return h("span", { class: "muted" }, "null");
  if (format === "json" && typeof data !== "object")
    return h("code", { class: "record-scalar" }, typeof data === "string" ? data : JSON.stringify(data));
  if (format === "json") return h("pre", { class: "record-json" }, JSON.stringify(data, null, 2));
  const text = which === "key" ? r.key_text : r.value_text;
  const hex = which === "key" ? r.key_hex : r.value_hex;
  const shown = view === "base64" ? String(data) : view === "text" && text !== null ? text : (hex ?? "");
  const label = view === "text" && text !== null ? "text" : view === "base64" ? "base64" : "hex";
  return h(
    "div",
    { class: "record-binary" },
    h("span", { class: "badge", "data-testid": `${which}-encoding` }, label),
    " ",
    h("code", { class: "record-bytes" }, shown),
  );
}

/**
 * The headers' cell: `name: value` lines, base64 values marked.
 * @param {ShownRecord} r
 */
export function headersCell(r) {
  if (r.headers.length === 0) return h("span", { class: "muted" }, "—");
  return h(
    "ul",
    { class: "record-headers" },
    r.headers.map((hd) =>
      h(
        "li",
        null,
        h("strong", null, hd.key),
        ": ",
        hd.value === null ? h("span", { class: "muted" }, "null") : h("code", null, hd.value),
        hd.encoding === "base64" ? h("span", { class: "muted" }, " (base64)") : null,
      ),
    ),
  );
}

/**
 * Downloads `records` as JSON lines (one record's JSON per line) named `<name>.jsonl`.
 * @param {ShownRecord[]} records
 * @param {string} name
 */
export function exportJsonLines(records, name) {
  const text = records.map((r) => JSON.stringify(r)).join("\n") + (records.length > 0 ? "\n" : "");
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" }));
  const a = h("a", { href: url, download: `${name}.jsonl`, class: "hidden" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Adds `<link rel="stylesheet" href>` to the document once.
 * @param {string} href
 */
export function stylesheet(href) {
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  document.head.appendChild(h("link", { rel: "stylesheet", href }));
}

/**
 * Standard base64 of a string's UTF-8 bytes.
 * @param {string} text
 */
export function base64Utf8(text) {
  let raw = "";
  for (const b of new TextEncoder().encode(text)) raw += String.fromCharCode(b);
  return btoa(raw);
}
