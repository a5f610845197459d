// @ts-check
/**
 * The message browser (`#/browse`, `#/browse/<topic>`; issue 16, decision 0042). A search form
 * (partition or all; start at the newest, the oldest, an offset or a time; filters on the key, a
 * header and a JSON path in the value) asks `GET /topics/{topic}/messages` and shows the records:
 * keys and values (JSON pretty-printed, binary as text, hex or base64), headers, timestamps,
 * partitions and offsets. "Load more" follows the answer's cursor; "Live tail" follows new
 * records over the `/ws/topics/{topic}` WebSocket until stopped, filtered in the page by the
 * form's filters (filter.js); records can be produced
 * (`POST /topics/{topic}`), republished to another topic, and the shown ones exported as JSON lines.
 */
import { seg } from "../api.js";
import { recordFilter } from "../filter.js";
import { base64Utf8, bytesCell, exportJsonLines, fromTail, headersCell, stylesheet } from "../records.js";
import {
  card,
  clear,
  field,
  formatNumber,
  formatTime,
  h,
  link,
  pageHeader,
  route,
  showError,
  showNotice,
  table,
} from "../ui.js";

/** Records kept on the page while tailing; the oldest go first. */
const TAIL_KEEP_MAX = 1000;

/** @typedef {import("../records.js").ShownRecord} ShownRecord */
/** @typedef {import("../records.js").BinaryView} BinaryView */
/** @typedef {import("../app.js").PageContext} PageContext */

/**
 * @typedef {object} BrowseState
 * @property {string} topic
 * @property {ShownRecord[]} records
 * @property {URLSearchParams | null} query the last search's parameters (without the cursor)
 * @property {string | null} cursor
 * @property {BinaryView} view
 * @property {WebSocket | null} tail
 */

/** @type {import("../app.js").PageRender} */
export default async function render(root, params, ctx) {
  stylesheet("/console/browse.css");
  /** @type {string[]} */
  const topics = await ctx.api("GET", "/topics");
  const topic = params[0];
  root.append(pageHeader("Messages", topicPicker(topics, topic ?? "", ctx)));
  if (topic === undefined) {
    root.append(topicList(topics));
    return;
  }
  const meta = await ctx.api("GET", `/topics/${seg(topic)}`);
  /** @type {BrowseState} */
  const state = { topic, records: [], query: null, cursor: null, view: "text", tail: null };
  const view = new BrowseView(state, meta.partitions.length, topics, ctx);
  ctx.onLeave(() => view.stopTail());
  root.append(view.searchCard(), view.resultsCard(), view.produceCard());
  await view.search();
}

/**
 * @param {string[]} topics
 * @param {string} current
 * @param {PageContext} ctx
 */
function topicPicker(topics, current, ctx) {
  const select = h(
    "select",
    {
      "data-testid": "browse-topic",
      "aria-label": "Topic",
      onchange: () => ctx.navigate(route("browse", select.value)),
    },
    current === "" ? h("option", { value: "" }, "Pick a topic…") : null,
    topics.map((t) => h("option", { value: t, selected: t === current }, t)),
  );
  return select;
}

/** @param {string[]} topics */
function topicList(topics) {
  return card(
    "Pick a topic to browse",
    table([{ label: "Topic", render: (/** @type {string} */ t) => link(route("browse", t), t) }], topics, {
      testid: "browse-topics",
      empty: "No topics yet.",
    }),
  );
}

/**
 * @param {string} testid
 * @param {Record<string, unknown>} [attrs]
 */
function input(testid, attrs = {}) {
  return h("input", { "data-testid": testid, ...attrs });
}

/**
 * @param {string} testid
 * @param {[string, string][]} options value, label
 * @param {Record<string, unknown>} [attrs]
 */
function select(testid, options, attrs = {}) {
  return h(
    "select",
    { "data-testid": testid, ...attrs },
    options.map(([value, label]) => h("option", { value }, label)),
  );
}

class BrowseView {
  /**
   * @param {BrowseState} state
   * @param {number} partitions
   * @param {string[]} topics
   * @param {PageContext} ctx
   */
  constructor(state, partitions, topics, ctx) {
    this.state = state;
    this.topics = topics;
    this.ctx = ctx;
    /** @type {[string, string][]} */
    const partitionOptions = [["all", "All"]];
    for (let p = 0; p < partitions; p++) partitionOptions.push([String(p), String(p)]);
    this.fields = {
      partition: select("browse-partition", partitionOptions),
      start: select(
        "browse-start",
        [
          ["end", "Newest"],
          ["beginning", "Oldest"],
          ["offset", "Offset"],
          ["timestamp", "Time"],
        ],
        { onchange: () => this.showStartInputs() },
      ),
      offset: input("browse-offset", { type: "number", min: 0, value: "0" }),
      timestamp: input("browse-timestamp", { type: "datetime-local", step: 1 }),
      limit: input("browse-limit", { type: "number", min: 1, max: 500, value: "100" }),
      key: input("browse-key", { placeholder: "text in the key" }),
      header: input("browse-header", { placeholder: "header name" }),
      headerValue: input("browse-header-value", { placeholder: "its value (optional)" }),
      jsonPath: input("browse-json-path", { placeholder: "$.order.status" }),
      jsonValue: input("browse-json-value", { placeholder: "value (optional)" }),
      match: select("browse-match", [
        ["contains", "contains"],
        ["exact", "equals"],
      ]),
    };
    this.offsetField = field("Offset", this.fields.offset);
    this.timestampField = field("Time", this.fields.timestamp);
    this.status = h("div", { class: "browse-status muted", "data-testid": "browse-status" });
    this.tbody = h("tbody");
    this.moreButton = h(
      "button",
      { class: "btn", "data-testid": "browse-more", onclick: () => this.run(() => this.more()) },
      "Load more",
    );
    this.tailButton = h(
      "button",
      { class: "btn", "data-testid": "browse-tail", onclick: () => this.toggleTail() },
      "Live tail",
    );
    this.showStartInputs();
  }

  /** Runs `action`, showing its failure as a banner. @param {() => Promise<void>} action */
  async run(action) {
    try {
      await action();
    } catch (err) {
      showError(err);
    }
  }

  showStartInputs() {
    const start = this.fields.start.value;
    this.offsetField.hidden = start !== "offset";
    this.timestampField.hidden = start !== "timestamp";
  }

  searchCard() {
    const f = this.fields;
    const form = h(
      "form",
      {
        class: "form browse-form",
        "data-testid": "browse-form",
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          void this.run(() => this.search());
        },
      },
      field("Partition", f.partition),
      field("Start at", f.start),
      this.offsetField,
      this.timestampField,
      field("Records", f.limit),
      field("Key", f.key),
      field("Header", f.header),
      field("Header value", f.headerValue),
      field("JSON path in the value", f.jsonPath),
      field("JSON value", f.jsonValue),
      field("Text match", f.match),
      h(
        "div",
        { class: "field" },
        h("button", { class: "btn btn-primary", type: "submit", "data-testid": "browse-search" }, "Search"),
      ),
    );
    return card(`Browse ${this.state.topic}`, form);
  }

  resultsCard() {
    const view = select(
      "browse-binary-view",
      [
        ["text", "binary as text (UTF-8)"],
        ["hex", "binary as hex"],
        ["base64", "binary as base64"],
      ],
      {
        "aria-label": "Show binary as",
        onchange: () => {
          this.state.view = /** @type {BinaryView} */ (view.value);
          this.renderRows(this.state.records, true);
        },
      },
    );
    const exportButton = h(
      "button",
      {
        class: "btn",
        "data-testid": "browse-export",
        onclick: () => exportJsonLines(this.state.records, this.state.topic),
      },
      "Export JSON lines",
    );
    const head = h(
      "tr",
      null,
      ["Partition", "Offset", "Timestamp", "Key", "Value", "Headers", ""].map((label, i) =>
        h("th", { class: i < 2 ? "num" : null }, label),
      ),
    );
    return h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "browse-toolbar" },
        this.status,
        h("div", { class: "actions" }, view, this.moreButton, this.tailButton, exportButton),
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table records-table", "data-testid": "browse-records" },
          h("thead", null, head),
          this.tbody,
        ),
      ),
    );
  }

  /** The search parameters of the form. */
  queryOf() {
    const f = this.fields;
    const q = this.filtersOf();
    q.set("partition", f.partition.value);
    q.set("start", f.start.value);
    q.set("limit", f.limit.value || "100");
    if (f.start.value === "offset") q.set("offset", f.offset.value || "0");
    if (f.start.value === "timestamp") {
      const ms = new Date(f.timestamp.value).getTime();
      if (!Number.isFinite(ms)) throw new Error("pick a time to start at");
      q.set("timestamp", String(Math.max(0, ms)));
    }
    return q;
  }

  /** The form's filters (those filled in) and their match mode. */
  filtersOf() {
    const f = this.fields;
    const q = new URLSearchParams({ match: f.match.value });
    /** @type {[string, HTMLInputElement][]} */
    const filters = [
      ["key", f.key],
      ["header", f.header],
      ["header_value", f.headerValue],
      ["json_path", f.jsonPath],
      ["json_value", f.jsonValue],
    ];
    for (const [name, el] of filters) if (el.value !== "") q.set(name, el.value);
    return q;
  }

  /** A new search: the form's query from its start. */
  async search() {
    this.stopTail();
    const query = this.queryOf();
    const page = await this.fetchPage(query);
    this.state.query = query;
    this.state.records = [];
    this.accept(page, true);
  }

  /** The next page of the last search, from its cursor. */
  async more() {
    if (this.state.query === null || this.state.cursor === null) return;
    const query = new URLSearchParams(this.state.query);
    query.set("cursor", this.state.cursor);
    query.delete("start");
    this.accept(await this.fetchPage(query), false);
  }

  /** @param {URLSearchParams} query */
  fetchPage(query) {
    this.status.textContent = "Searching…";
    return this.ctx.api("GET", `/topics/${seg(this.state.topic)}/messages?${query}`);
  }

  /**
   * @param {any} page the route's answer
   * @param {boolean} replace
   */
  accept(page, replace) {
    this.state.cursor = page.cursor;
    this.state.records = replace ? page.records : [...this.state.records, ...page.records];
    this.renderRows(page.records, replace);
    const reason = {
      limit: "page full",
      end: page.done ? "end of the topic reached" : "nothing more to read now",
      page_bytes: "page size limit reached",
      scan_limit: "scan limit reached, load more to go on",
      bytes_limit: "scan byte limit reached, load more to go on",
      time_limit: "time limit reached, load more to go on",
    }[/** @type {string} */ (page.stopped)];
    this.status.textContent =
      `${shownCount(this.state.records.length)} · ` +
      `${formatNumber(page.scanned)} scanned in ${formatNumber(page.elapsed_ms)} ms · ${reason ?? page.stopped}`;
  }

  /**
   * @param {ShownRecord[]} records
   * @param {boolean} replace
   */
  renderRows(records, replace) {
    if (replace) clear(this.tbody);
    if (replace && records.length === 0) {
      this.tbody.append(h("tr", null, h("td", { class: "empty", colspan: 7 }, "No records match.")));
      return;
    }
    if (!replace) this.tbody.querySelector("td.empty")?.parentElement?.remove();
    for (const r of records) this.tbody.append(this.row(r));
  }

  /** @param {ShownRecord} r */
  row(r) {
    return h(
      "tr",
      { "data-key": `${r.partition}-${r.offset}`, "data-testid": "record-row" },
      h("td", { class: "num" }, String(r.partition)),
      h("td", { class: "num" }, String(r.offset)),
      h("td", { class: "nowrap" }, formatTime(r.timestamp)),
      h("td", { class: "record-key" }, bytesCell(r, "key", this.state.view)),
      h("td", { class: "record-value" }, bytesCell(r, "value", this.state.view)),
      h("td", null, headersCell(r)),
      h(
        "td",
        null,
        h(
          "button",
          {
            class: "btn btn-small",
            "data-testid": `republish-${r.partition}-${r.offset}`,
            onclick: () => void this.run(() => this.republish(r)),
          },
          "Republish",
        ),
      ),
    );
  }

  toggleTail() {
    if (this.state.tail) this.stopTail();
    else this.startTail();
  }

  startTail() {
    const partition = this.fields.partition.value;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = partition === "all" ? "from=latest" : `from=latest&partition=${partition}`;
    const ws = new WebSocket(`${scheme}://${location.host}/ws/topics/${seg(this.state.topic)}?${query}`);
    this.state.tail = ws;
    this.tailButton.textContent = "Stop tail";
    this.tailButton.classList.add("btn-danger");
    const filter = recordFilter(this.filtersOf());
    this.status.textContent = `Live tail${filter ? " (filtered)" : ""}: waiting for new records…`;
    ws.onmessage = (event) => {
      const r = fromTail(JSON.parse(String(event.data)));
      if (filter === null || filter(r)) this.tailed(r);
    };
    ws.onclose = (event) => {
      if (this.state.tail !== ws) return;
      this.tailStopped();
      if (event.code !== 1000)
        showError(coded(`TAIL_CLOSED_${event.code}`, event.reason || "the live tail closed"));
    };
  }

  /** @param {ShownRecord} r */
  tailed(r) {
    this.state.records.push(r);
    this.renderRows([r], false);
    if (this.state.records.length > TAIL_KEEP_MAX) {
      this.state.records.shift();
      this.tbody.firstElementChild?.remove();
    }
    this.status.textContent = `Live tail: ${shownCount(this.state.records.length)}`;
  }

  stopTail() {
    const ws = this.state.tail;
    if (!ws) return;
    this.tailStopped();
    ws.close(1000, "stopped");
    this.status.textContent = `Live tail stopped · ${shownCount(this.state.records.length)}`;
  }

  tailStopped() {
    this.state.tail = null;
    this.tailButton.textContent = "Live tail";
    this.tailButton.classList.remove("btn-danger");
  }

  /** @param {ShownRecord} r */
  async republish(r) {
    const target = await republishDialog(
      this.topics.filter((t) => t !== this.state.topic),
      r,
    );
    if (target === null) return;
    const body = target.partition === null ? { topic: target.topic } : target;
    const path = `/topics/${seg(this.state.topic)}/partitions/${r.partition}/records/${r.offset}/republish`;
    const done = await this.ctx.api("POST", path, body);
    showNotice(
      `Republished partition ${r.partition} offset ${r.offset} to ${done.topic} partition ${done.partition} at offset ${done.offset}.`,
    );
  }

  produceCard() {
    const partition = input("produce-partition", { type: "number", min: 0, placeholder: "by key" });
    const key = input("produce-key", { placeholder: "key (text, empty: null)" });
    const format = select("produce-format", [
      ["json", "JSON"],
      ["text", "text"],
    ]);
    const value = h("textarea", { "data-testid": "produce-value", rows: 4, placeholder: '{"id": 1}' });
    const headers = h("textarea", {
      "data-testid": "produce-headers",
      rows: 4,
      placeholder: "name: value (one a line)",
    });
    const result = h("span", { class: "muted", "data-testid": "produce-result" });
    const submit = async () => {
      const record = produceRecord(key.value, value.value, format.value, headers.value, partition.value);
      const answer = await this.ctx.api("POST", `/topics/${seg(this.state.topic)}`, {
        format: "binary",
        records: [record],
      });
      const [o] = answer.offsets;
      if (o.error_code) throw coded(o.error_code, o.message);
      result.textContent = `Produced to partition ${o.partition} at offset ${o.offset}.`;
    };
    return card(
      "Produce a record",
      h(
        "form",
        {
          class: "form produce-form",
          onsubmit: (/** @type {Event} */ e) => {
            e.preventDefault();
            void this.run(submit);
          },
        },
        field("Partition", partition),
        field("Key", key),
        field("Value is", format),
        field("Value", value, undefined, true),
        field("Headers", headers, undefined, true),
        h(
          "div",
          { class: "field" },
          h(
            "button",
            { class: "btn btn-primary", type: "submit", "data-testid": "produce-submit" },
            "Produce",
          ),
        ),
        h("div", { class: "field wide" }, result),
      ),
    );
  }
}

/**
 * The produce route's record (format binary: UTF-8 bytes as base64) of the form's fields.
 * @param {string} key
 * @param {string} value
 * @param {string} format "json" (checked) or "text"
 * @param {string} headers `name: value` lines
 * @param {string} partition empty: the broker picks
 */
function produceRecord(key, value, format, headers, partition) {
  if (format === "json" && value !== "") {
    try {
      JSON.parse(value);
    } catch (err) {
      throw coded("INVALID_JSON", `the value is not JSON: ${String(err)}`);
    }
  }
  /** @type {Record<string, unknown>} */
  const record = {
    key: key === "" ? null : base64Utf8(key),
    value: value === "" ? null : base64Utf8(value),
    headers: headers
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const colon = line.indexOf(":");
        const name = (colon < 0 ? line : line.slice(0, colon)).trim();
        return { key: name, value: colon < 0 ? null : base64Utf8(line.slice(colon + 1).trim()) };
      }),
  };
  if (partition !== "") record.partition = Number(partition);
  return record;
}

/**
 * Asks where to republish `r`: resolves the topic and partition (null: as the key says), or null.
 * @param {string[]} topics
 * @param {ShownRecord} r
 * @returns {Promise<{ topic: string, partition: number | null } | null>}
 */
function republishDialog(topics, r) {
  return new Promise((resolve) => {
    const topic = select(
      "republish-topic",
      topics.map((t) => [t, t]),
    );
    const partition = input("republish-partition", { type: "number", min: 0, placeholder: "by key" });
    const dialog = h("dialog", { class: "dialog", "data-testid": "republish-dialog" });
    /** @param {boolean} ok */
    const close = (ok) => {
      dialog.close();
      dialog.remove();
      if (!ok || topic.value === "") resolve(null);
      else
        resolve({ topic: topic.value, partition: partition.value === "" ? null : Number(partition.value) });
    };
    dialog.append(
      h(
        "p",
        null,
        `Republish the record at partition ${r.partition} offset ${r.offset} (its exact key, value and headers) to:`,
      ),
      h("div", { class: "form" }, field("Topic", topic), field("Partition", partition)),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { class: "btn", "data-testid": "republish-cancel", onclick: () => close(false) },
          "Cancel",
        ),
        h(
          "button",
          {
            class: "btn btn-primary",
            "data-testid": "republish-ok",
            disabled: topics.length === 0,
            onclick: () => close(true),
          },
          "Republish",
        ),
      ),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/**
 * An error with a code, shown by showError beside its message.
 * @param {string} code
 * @param {string} message
 */
function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * "1 record shown", "12 records shown".
 * @param {number} n
 */
function shownCount(n) {
  return `${formatNumber(n)} record${n === 1 ? "" : "s"} shown`;
}
