// @ts-check
/**
 * The message browser's filters applied in the page, to the live tail's records (a search is
 * filtered by the broker: broker/http/record-filter.ts). The same rules: the text of a key or
 * header value is a JSON string's content, other UTF-8 as it is, anything else as hex; a JSON path
 * of the same small grammar (`$.a.b[0]['c d']`) must find something in a JSON value and, when a
 * value is given, its text (a string as itself, anything else as JSON) must equal or contain it.
 * One difference: a JSON key that is not a string is compared as JSON.stringify spells it, where
 * the broker compares the bytes as stored (`{"a": 1}` with its space).
 */

/** @typedef {import("./records.js").ShownRecord} ShownRecord */
/** @typedef {(string | number)[]} JsonPath */

/**
 * The steps of a JSON path, or null when it is outside the grammar (the broker refuses it then).
 * @param {string} path
 * @returns {JsonPath | null}
 */
export function parseJsonPath(path) {
  if (path[0] !== "$") return null;
  /** @type {JsonPath} */
  const steps = [];
  const token =
    /^(?:\.([A-Za-z_$][A-Za-z0-9_$-]*)|\[(0|[1-9][0-9]{0,8})\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\])/;
  let rest = path.slice(1);
  while (rest !== "") {
    const m = token.exec(rest);
    if (!m) return null;
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else steps.push((m[3] ?? m[4]).replace(/\\(.)/g, "$1"));
    rest = rest.slice(m[0].length);
  }
  return steps;
}

/**
 * @param {unknown} value
 * @param {JsonPath} steps
 * @returns {unknown} undefined when a step finds nothing
 */
function walk(value, steps) {
  let node = value;
  for (const step of steps) {
    if (typeof step === "number") {
      if (!Array.isArray(node) || step >= node.length) return undefined;
      node = node[step];
    } else {
      if (node === null || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, step))
        return undefined;
      node = /** @type {Record<string, unknown>} */ (node)[step];
    }
  }
  return node;
}

/** @param {string} base64 */
function hexOfBase64(base64) {
  let out = "";
  for (const c of atob(base64)) out += c.charCodeAt(0).toString(16).padStart(2, "0");
  return out;
}

/**
 * A UTF-8 text as the broker compares it: a JSON string's content, else the text.
 * @param {string} text
 */
function unquoted(text) {
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed === "string") return parsed;
    } catch {
      // Quoted but not a JSON string: the text as it is.
    }
  }
  return text;
}

/**
 * The key's text, or null for a null key.
 * @param {ShownRecord} r
 */
function keyText(r) {
  if (r.key === null) return null;
  if (r.key_format === "json") return typeof r.key === "string" ? r.key : JSON.stringify(r.key);
  return r.key_text !== null ? unquoted(r.key_text) : r.key_hex;
}

/**
 * The record predicate of the search parameters' filters (key, header, header_value, json_path,
 * json_value, match), or null when they filter nothing.
 * @param {URLSearchParams} q
 * @returns {((r: ShownRecord) => boolean) | null}
 */
export function recordFilter(q) {
  const exact = q.get("match") === "exact";
  /** @param {string | null} text @param {string} wanted */
  const same = (text, wanted) => text !== null && (exact ? text === wanted : text.includes(wanted));
  /** @type {((r: ShownRecord) => boolean)[]} */
  const tests = [];
  const key = q.get("key");
  if (key !== null) tests.push((r) => same(keyText(r), key));
  const header = q.get("header");
  const headerValue = q.get("header_value");
  if (header !== null)
    tests.push((r) =>
      r.headers.some((hd) => {
        if (hd.key !== header) return false;
        if (headerValue === null) return true;
        if (hd.value === null) return false;
        return same(hd.encoding === "utf8" ? unquoted(hd.value) : hexOfBase64(hd.value), headerValue);
      }),
    );
  const path = q.get("json_path");
  const steps = path === null ? null : parseJsonPath(path);
  const jsonValue = q.get("json_value");
  if (steps !== null)
    tests.push((r) => {
      if (r.value_format !== "json" || r.value === null) return false;
      const node = walk(r.value, steps);
      if (node === undefined) return false;
      return jsonValue === null || same(typeof node === "string" ? node : JSON.stringify(node), jsonValue);
    });
  if (tests.length === 0) return null;
  return (r) => tests.every((test) => test(r));
}
