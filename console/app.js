// @ts-check
/**
 * The console's hash router. `#/<page>/<param>/...`: the first segment names a page module,
 * loaded as `./pages/<page>.js` (`#/` is the overview), the decoded segments after it are its
 * params. A page exports `default async function render(root, params, ctx)`; `ctx.onLeave(fn)`
 * registers cleanup (timers, WebSockets) run when the route changes. A new page needs only its
 * module and, if it belongs in the sidebar, an entry in NAV.
 */
import { api } from "./api.js";
import { clear, clearBanners, h, showError } from "./ui.js";

/**
 * @typedef {object} PageContext
 * @property {typeof api} api
 * @property {(hash: string) => void} navigate
 * @property {(fn: () => void) => void} onLeave
 */
/** @typedef {(root: HTMLElement, params: string[], ctx: PageContext) => Promise<void> | void} PageRender */

/** The sidebar: label, page module, hash. */
const NAV = [
  { label: "Overview", page: "overview", hash: "#/" },
  { label: "Topics", page: "topics", hash: "#/topics" },
  { label: "Messages", page: "browse", hash: "#/browse" },
  { label: "Groups", page: "groups", hash: "#/groups" },
  { label: "Security", page: "security", hash: "#/security" },
];

/** A page module's name: lower-case letters, digits and dashes (nothing that walks out of pages/). */
const PAGE_NAME = /^[a-z][a-z0-9-]*$/;

/** Cleanups registered by the page shown now. */
/** @type {(() => void)[]} */
let leaving = [];
/** Bumped on every route change, so a page that finishes loading after the user moved on is dropped. */
let generation = 0;

/**
 * The page name and decoded params of a location hash.
 * @param {string} hash
 * @returns {{ page: string, params: string[] }}
 */
export function parseHash(hash) {
  const segments = hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((s) => s !== "");
  const decoded = segments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { page: decoded[0] ?? "overview", params: decoded.slice(1) };
}

function renderNav() {
  const nav = document.getElementById("nav");
  if (!nav) return;
  clear(nav);
  for (const entry of NAV)
    nav.appendChild(
      h("a", { href: entry.hash, "data-testid": `nav-${entry.page}`, "data-page": entry.page }, entry.label),
    );
}

/** @param {string} page */
function markActive(page) {
  for (const a of document.querySelectorAll("#nav a")) {
    const active = a.getAttribute("data-page") === page;
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function runLeaving() {
  const fns = leaving;
  leaving = [];
  for (const fn of fns) {
    try {
      fn();
    } catch (err) {
      console.error("a page's cleanup failed", err);
    }
  }
}

/**
 * @param {string} page
 * @returns {Promise<PageRender | null>} null when there is no such page
 */
async function loadPage(page) {
  if (!PAGE_NAME.test(page)) return null;
  try {
    const module = await import(`./pages/${page}.js`);
    return typeof module.default === "function" ? module.default : null;
  } catch (err) {
    console.error(`page ${page} did not load`, err);
    return null;
  }
}

/** Shows the page the location hash names. */
async function route() {
  const mine = ++generation;
  runLeaving();
  clearBanners();
  const { page, params } = parseHash(location.hash);
  markActive(page);
  const root = document.getElementById("content");
  if (!root) return;
  clear(root);
  root.setAttribute("data-page", page);
  root.appendChild(h("p", { class: "muted", "data-testid": "loading" }, "Loading…"));
  const render = await loadPage(page);
  if (mine !== generation) return;
  clear(root);
  if (render === null) {
    root.appendChild(
      h(
        "div",
        { class: "card", "data-testid": "page-missing" },
        h("h1", null, "No such page"),
        h("p", null, `Nothing is served at #/${page}.`),
      ),
    );
    return;
  }
  /** @type {PageContext} */
  const ctx = {
    api,
    navigate: (hash) => {
      location.hash = hash;
    },
    onLeave: (fn) => {
      if (mine === generation) leaving.push(fn);
      else fn();
    },
  };
  try {
    await render(root, params, ctx);
  } catch (err) {
    if (mine === generation) showError(err);
  }
}

renderNav();
window.addEventListener("hashchange", () => void route());
void route();
