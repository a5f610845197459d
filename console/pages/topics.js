// @ts-check
/**
 * The topics page. `#/topics`: every topic with partitions, replication, records and size
 * (GET /cluster), a name filter, a form to create one (POST /topics) and a delete button with a
 * confirmation (DELETE /topics/{t}). `#/topics/<topic>`: the topic's partitions with leader,
 * replicas, ISR, log start and end offsets and size (GET /topics/{t}), a form to add partitions
 * (POST /topics/{t}/partitions), its configs with their sources, each editable or reset to the
 * default (GET and PATCH /topics/{t}/configs), and a link to browse its messages.
 */
import { seg } from "../api.js";
import {
  append,
  badge,
  busy,
  clear,
  confirmDialog,
  field,
  formatBytes,
  formatNumber,
  h,
  pageHeader,
  route,
  showError,
  showNotice,
  stat,
  table,
} from "../ui.js";

/**
 * @typedef {import("../app.js").PageContext} PageContext
 * @typedef {{ name: string, internal: boolean, partitions: number, replication_factor: number, records: number,
 *   size_bytes: number | null, offline_partitions: number, under_replicated_partitions: number }} TopicRow
 * @typedef {{ partition: number, leader: number, leader_epoch: number, replicas: { broker: number, leader: boolean,
 *   in_sync: boolean }[], log_start_offset: number, log_end_offset: number, high_watermark: number, size_bytes: number }} PartitionRow
 * @typedef {{ name: string, topic_id: string, internal: boolean, replication_factor: number, partitions: PartitionRow[] }} TopicView
 * @typedef {{ name: string, value: string | null, source: string, default: boolean, read_only: boolean,
 *   sensitive: boolean, type: string, documentation: string | null }} ConfigRow
 */

/** @type {import("../app.js").PageRender} */
export default async function render(root, params, ctx) {
  if (params[0] !== undefined) return topicPage(root, params[0], ctx);
  return listPage(root, ctx);
}

/**
 * Parses `key=value` lines (blank lines and # comments skipped).
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseConfigLines(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`"${line}" is not key=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** @param {PageContext} ctx */
function createForm(ctx) {
  const name = h("input", {
    name: "name",
    required: true,
    placeholder: "orders",
    "data-testid": "create-name",
  });
  const partitions = h("input", {
    name: "partitions",
    type: "number",
    min: 1,
    value: "1",
    "data-testid": "create-partitions",
  });
  const replication = h("input", {
    name: "replication",
    type: "number",
    min: 1,
    placeholder: "broker default",
    "data-testid": "create-replication",
  });
  const configs = h("textarea", {
    name: "configs",
    rows: 4,
    placeholder: "retention.ms=86400000\ncleanup.policy=compact",
    "data-testid": "create-configs",
  });
  const submit = h(
    "button",
    { class: "btn btn-primary", type: "submit", "data-testid": "create-submit" },
    "Create topic",
  );
  const form = h(
    "form",
    { class: "card", "data-testid": "create-form", hidden: true },
    h("h2", null, "New topic"),
    h(
      "div",
      { class: "form" },
      field("Name", name),
      field("Partitions", partitions),
      field("Replication factor", replication, "empty: the broker's default.replication.factor"),
      field(
        "Configs (key=value per line)",
        configs,
        "e.g. retention.ms, cleanup.policy, min.insync.replicas",
        true,
      ),
    ),
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(submit, async () => {
      /** @type {Record<string, unknown>} */
      const body = { name: name.value.trim(), partitions: Number(partitions.value) };
      if (replication.value !== "") body.replication_factor = Number(replication.value);
      const parsed = parseConfigLines(configs.value);
      if (Object.keys(parsed).length > 0) body.configs = parsed;
      await ctx.api("POST", "/topics", body);
      showNotice(`Topic ${body.name} created`);
      ctx.navigate(route("topics", String(body.name)));
    });
  });
  return form;
}

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
async function listPage(root, ctx) {
  const form = createForm(ctx);
  const toggle = h(
    "button",
    { class: "btn btn-primary", "data-testid": "create-topic", onclick: () => (form.hidden = !form.hidden) },
    "New topic",
  );
  const filter = h("input", { type: "search", placeholder: "Filter by name", "data-testid": "topic-filter" });
  const internal = h("input", { type: "checkbox", "data-testid": "show-internal" });
  const list = h("div", { class: "table-wrap" });
  root.append(
    pageHeader("Topics", toggle),
    form,
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "toolbar" },
        filter,
        h("label", { class: "check" }, internal, " Show internal topics"),
      ),
      list,
    ),
  );
  /** @type {TopicRow[]} */
  let topics = [];
  const draw = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = topics.filter(
      (t) => (internal.checked || !t.internal) && t.name.toLowerCase().includes(needle),
    );
    clear(list);
    list.append(topicsTable(shown, ctx, load));
  };
  async function load() {
    topics = (await ctx.api("GET", "/cluster")).topics;
    draw();
  }
  filter.addEventListener("input", draw);
  internal.addEventListener("change", draw);
  await load();
}

/**
 * @param {TopicRow[]} topics
 * @param {PageContext} ctx
 * @param {() => Promise<void>} reload
 */
function topicsTable(topics, ctx, reload) {
  return table(
    [
      {
        label: "Topic",
        render: (t) =>
          h(
            "a",
            { href: route("topics", t.name) },
            t.name,
            t.internal ? h("span", { class: "muted" }, " (internal)") : null,
          ),
      },
      { label: "Partitions", numeric: true, render: (t) => formatNumber(t.partitions) },
      { label: "Replication", numeric: true, render: (t) => String(t.replication_factor) },
      { label: "Records", numeric: true, render: (t) => formatNumber(t.records) },
      { label: "Size", numeric: true, render: (t) => formatBytes(t.size_bytes) },
      {
        label: "",
        render: (t) =>
          h(
            "div",
            { class: "actions" },
            h("a", { class: "btn btn-small", href: route("browse", t.name) }, "Messages"),
            h(
              "button",
              {
                class: "btn btn-small btn-danger",
                "data-testid": `delete-${t.name}`,
                onclick: () => void deleteTopic(t.name, ctx, reload),
              },
              "Delete",
            ),
          ),
      },
    ],
    topics,
    { testid: "topics-table", empty: "No topics", rowKey: (t) => t.name },
  );
}

/**
 * @param {string} name
 * @param {PageContext} ctx
 * @param {() => Promise<void>} after
 */
async function deleteTopic(name, ctx, after) {
  const yes = await confirmDialog(`Delete topic ${name} and all its records? This cannot be undone.`, {
    ok: "Delete",
    danger: true,
  });
  if (!yes) return;
  try {
    await ctx.api("DELETE", `/topics/${seg(name)}`);
    showNotice(`Topic ${name} deleted`);
    await after();
  } catch (err) {
    showError(err);
  }
}

/** @param {PartitionRow[]} partitions */
function partitionsTable(partitions) {
  return table(
    [
      { label: "Partition", numeric: true, render: (p) => String(p.partition) },
      {
        label: "Leader",
        numeric: true,
        render: (p) => (p.leader < 0 ? badge("none", "bad") : String(p.leader)),
      },
      { label: "Replicas", render: (p) => p.replicas.map((r) => r.broker).join(", ") },
      {
        label: "In sync",
        render: (p) => {
          const isr = p.replicas.filter((r) => r.in_sync).map((r) => r.broker);
          return h(
            "span",
            null,
            isr.join(", ") || "—",
            " ",
            isr.length < p.replicas.length ? badge("under-replicated", "warn") : null,
          );
        },
      },
      { label: "Log start", numeric: true, render: (p) => formatNumber(p.log_start_offset) },
      { label: "Log end", numeric: true, render: (p) => formatNumber(p.log_end_offset) },
      {
        label: "Records",
        numeric: true,
        render: (p) => formatNumber(Math.max(0, p.high_watermark - p.log_start_offset)),
      },
      { label: "Size", numeric: true, render: (p) => formatBytes(p.size_bytes < 0 ? null : p.size_bytes) },
    ],
    partitions,
    { testid: "partitions-table", rowKey: (p) => String(p.partition) },
  );
}

/**
 * @param {string} topic
 * @param {number} current
 * @param {PageContext} ctx
 * @param {() => Promise<void>} after
 */
function addPartitionsForm(topic, current, ctx, after) {
  const count = h("input", {
    type: "number",
    min: current + 1,
    value: String(current + 1),
    "data-testid": "partitions-count",
  });
  const submit = h(
    "button",
    { class: "btn", type: "submit", "data-testid": "partitions-submit" },
    "Add partitions",
  );
  const form = h(
    "form",
    { class: "inline-form", "data-testid": "partitions-form" },
    field("New partition count", count),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(submit, async () => {
      await ctx.api("POST", `/topics/${seg(topic)}/partitions`, { count: Number(count.value) });
      showNotice(`${topic} has ${count.value} partitions now`);
      await after();
    });
  });
  return form;
}

/**
 * @param {HTMLElement} root
 * @param {string} name
 * @param {PageContext} ctx
 */
async function topicPage(root, name, ctx) {
  const del = h("button", { class: "btn btn-danger", "data-testid": "delete-topic" }, "Delete topic");
  del.addEventListener("click", () => void deleteTopic(name, ctx, async () => ctx.navigate("#/topics")));
  root.append(
    h("div", { class: "muted", style: "margin-bottom:4px" }, h("a", { href: "#/topics" }, "Topics"), " / "),
    pageHeader(
      name,
      h("a", { class: "btn", href: route("browse", name), "data-testid": "browse-link" }, "Browse messages"),
      del,
    ),
  );
  const summary = h("div");
  const partitions = h("section", { class: "card" });
  const configs = h("section", { class: "card", "data-testid": "configs-card" });
  root.append(summary, partitions, configs);
  async function loadTopic() {
    /** @type {TopicView} */
    const topic = await ctx.api("GET", `/topics/${seg(name)}`);
    const records = topic.partitions.reduce(
      (sum, p) => sum + Math.max(0, p.high_watermark - p.log_start_offset),
      0,
    );
    const size = topic.partitions.reduce((sum, p) => sum + Math.max(0, p.size_bytes), 0);
    clear(summary);
    summary.append(
      h(
        "div",
        { class: "cards" },
        stat("Partitions", formatNumber(topic.partitions.length), "stat-partitions"),
        stat("Replication factor", String(topic.replication_factor)),
        stat("Records", formatNumber(records), "stat-records"),
        stat("Size", formatBytes(size)),
        stat("Topic id", h("span", { class: "mono", style: "font-size:12px" }, topic.topic_id)),
      ),
    );
    clear(partitions);
    partitions.append(
      h(
        "div",
        { class: "card-head" },
        h("h2", null, "Partitions"),
        addPartitionsForm(name, topic.partitions.length, ctx, loadTopic),
      ),
      h("div", { class: "table-wrap" }, partitionsTable(topic.partitions)),
    );
  }
  await Promise.all([loadTopic(), loadConfigs(configs, name, ctx)]);
}

/**
 * @param {HTMLElement} box
 * @param {string} topic
 * @param {PageContext} ctx
 */
async function loadConfigs(box, topic, ctx) {
  /** @type {{ configs: ConfigRow[] }} */
  const { configs } = await ctx.api("GET", `/topics/${seg(topic)}/configs`);
  drawConfigs(box, topic, configs, ctx);
}

/**
 * @param {HTMLElement} box
 * @param {string} topic
 * @param {ConfigRow[]} configs
 * @param {PageContext} ctx
 */
function drawConfigs(box, topic, configs, ctx) {
  const filter = h("input", {
    type: "search",
    placeholder: "Filter configs",
    "data-testid": "config-filter",
  });
  const onlySet = h("input", { type: "checkbox", "data-testid": "config-only-set" });
  const list = h("div", { class: "table-wrap" });
  /** @param {Record<string, unknown>} body */
  const change = async (body) => {
    /** @type {{ configs: ConfigRow[] }} */
    const answer = await ctx.api("PATCH", `/topics/${seg(topic)}/configs`, body);
    drawConfigs(box, topic, answer.configs, ctx);
  };
  const draw = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = configs.filter((c) => (!onlySet.checked || !c.default) && c.name.includes(needle));
    clear(list);
    list.append(configTable(shown, change));
  };
  filter.addEventListener("input", draw);
  onlySet.addEventListener("change", draw);
  clear(box);
  box.append(
    h(
      "div",
      { class: "card-head" },
      h("h2", null, "Configuration"),
      h(
        "div",
        { class: "toolbar", style: "margin:0" },
        filter,
        h("label", { class: "check" }, onlySet, " Only set on this topic"),
      ),
    ),
    list,
  );
  draw();
}

/**
 * @param {ConfigRow[]} configs
 * @param {(body: Record<string, unknown>) => Promise<void>} change
 */
function configTable(configs, change) {
  return table(
    [
      { label: "Name", render: (c) => h("span", { class: "mono", title: c.documentation ?? "" }, c.name) },
      {
        label: "Value",
        render: (c) =>
          h(
            "span",
            { class: "value-cell", "data-testid": `config-value-${c.name}` },
            c.sensitive ? "(hidden)" : (c.value ?? "null"),
          ),
      },
      {
        label: "Source",
        render: (c) => (c.default ? badge(sourceLabel(c.source), "muted") : badge("topic", "ok")),
      },
      { label: "", render: (c) => (c.read_only ? "" : configActions(c, change)) },
    ],
    configs,
    { testid: "configs-table", rowKey: (c) => c.name, empty: "No configs match" },
  );
}

/** @param {string} source */
function sourceLabel(source) {
  if (source === "STATIC_BROKER_CONFIG") return "broker";
  if (source === "DEFAULT_CONFIG") return "default";
  return source.toLowerCase();
}

/**
 * The Edit and Reset buttons of one config; Edit turns the cell into an input with Save and Cancel.
 * @param {ConfigRow} c
 * @param {(body: Record<string, unknown>) => Promise<void>} change
 */
function configActions(c, change) {
  const cell = h("div", { class: "actions" });
  const show = () => {
    clear(cell);
    append(cell, [
      h("button", { class: "btn btn-small", "data-testid": `config-edit-${c.name}`, onclick: edit }, "Edit"),
      c.default
        ? null
        : h(
            "button",
            { class: "btn btn-small", "data-testid": `config-reset-${c.name}`, onclick: reset },
            "Reset",
          ),
    ]);
  };
  const reset = () => void change({ reset: [c.name] }).catch(showError);
  function edit() {
    const input = h("input", { value: c.value ?? "", "data-testid": `config-input-${c.name}` });
    const save = h(
      "button",
      { class: "btn btn-small btn-primary", "data-testid": `config-save-${c.name}` },
      "Save",
    );
    save.addEventListener("click", () => void busy(save, () => change({ set: { [c.name]: input.value } })));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") save.click();
      if (e.key === "Escape") show();
    });
    clear(cell);
    cell.append(input, save, h("button", { class: "btn btn-small", onclick: show }, "Cancel"));
    input.focus();
  }
  show();
  return cell;
}
