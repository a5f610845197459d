// @ts-check
/**
 * The overview page (`#/`): the cluster's health, its brokers (up, controller, rack, partitions
 * led, endpoints) and its topics with records, size and throughput, from GET /cluster polled
 * every POLL_MS. Throughput is records per second: the change of a topic's summed log end
 * offsets between two polls over the time between them.
 */
import {
  badge,
  card,
  clear,
  formatBytes,
  formatNumber,
  formatRate,
  h,
  pageHeader,
  route,
  stat,
  table,
} from "../ui.js";

/** How often the page asks the broker again. */
const POLL_MS = 5000;

/**
 * @typedef {{ node_id: number, up: boolean, shutting_down: boolean, controller: boolean, host: string | null,
 *   port: number | null, http_port: number | null, rack: string | null, partitions_led: number, replicas: number,
 *   endpoints: { listener: string, host: string, port: number }[] }} BrokerRow
 * @typedef {{ name: string, internal: boolean, partitions: number, replication_factor: number,
 *   size_bytes: number | null, log_end_offset_total: number, records: number, offline_partitions: number,
 *   under_replicated_partitions: number, complete: boolean }} TopicRow
 * @typedef {{ topic: string, partition: number }} PartitionRef
 * @typedef {{ cluster_id: string, controller_id: number, brokers: BrokerRow[], health: { healthy: boolean,
 *   down_brokers: number[], offline_partitions: number, under_replicated_partitions: number,
 *   offline: PartitionRef[], under_replicated: PartitionRef[], unanswered: number[] }, topics: TopicRow[] }} ClusterView
 */

/** @param {BrokerRow} b */
function brokerStatus(b) {
  if (!b.up) return badge("Down", "bad");
  if (b.shutting_down) return badge("Shutting down", "warn");
  return badge("Up", "ok");
}

/** @param {ClusterView} view */
function healthStats(view) {
  const up = view.brokers.filter((b) => b.up).length;
  const topics = view.topics.filter((t) => !t.internal);
  const partitions = topics.reduce((sum, t) => sum + t.partitions, 0);
  const { health } = view;
  return h(
    "div",
    { class: "cards" },
    stat("Health", health.healthy ? badge("Healthy", "ok") : badge("Unhealthy", "bad"), "stat-health"),
    stat("Brokers up", `${up} / ${view.brokers.length}`, "stat-brokers"),
    stat("Controller", view.controller_id >= 0 ? `Broker ${view.controller_id}` : "none", "stat-controller"),
    stat("Topics", formatNumber(topics.length), "stat-topics"),
    stat("Partitions", formatNumber(partitions), "stat-partitions"),
    stat("Offline partitions", formatNumber(health.offline_partitions), "stat-offline"),
    stat("Under-replicated", formatNumber(health.under_replicated_partitions), "stat-under-replicated"),
  );
}

/** @param {ClusterView} view */
function problems(view) {
  const { health } = view;
  /** @param {PartitionRef[]} list */
  const names = (list) => list.map((p) => `${p.topic}-${p.partition}`).join(", ");
  const lines = [
    health.down_brokers.length > 0 ? `Brokers down: ${health.down_brokers.join(", ")}` : null,
    health.offline.length > 0 ? `Offline partitions: ${names(health.offline)}` : null,
    health.under_replicated.length > 0
      ? `Under-replicated partitions: ${names(health.under_replicated)}`
      : null,
    health.unanswered.length > 0
      ? `No answer from brokers ${health.unanswered.join(", ")}: their partitions' offsets and sizes are missing`
      : null,
  ].filter((x) => x !== null);
  if (lines.length === 0) return null;
  return card(
    "Problems",
    h(
      "ul",
      { class: "problems", "data-testid": "health-problems" },
      lines.map((l) => h("li", null, l)),
    ),
  );
}

/** @param {BrokerRow[]} brokers */
function brokersTable(brokers) {
  return table(
    [
      { label: "Broker", render: (b) => h("strong", null, String(b.node_id)) },
      { label: "Status", render: brokerStatus },
      { label: "Role", render: (b) => (b.controller ? badge("Controller", "ok") : "") },
      { label: "Rack", render: (b) => b.rack ?? "—" },
      { label: "Partitions led", numeric: true, render: (b) => formatNumber(b.partitions_led) },
      { label: "Replicas", numeric: true, render: (b) => formatNumber(b.replicas) },
      {
        label: "Endpoints",
        render: (b) =>
          b.endpoints.length === 0
            ? "—"
            : h(
                "div",
                { class: "mono" },
                b.endpoints.map((e) =>
                  h("div", null, `${e.listener ? `${e.listener} ` : ""}${e.host}:${e.port}`),
                ),
              ),
      },
      {
        label: "HTTP",
        render: (b) =>
          b.http_port === null ? "—" : h("span", { class: "mono" }, `${b.host}:${b.http_port}`),
      },
    ],
    brokers,
    { testid: "brokers-table", rowKey: (b) => String(b.node_id) },
  );
}

/**
 * @param {TopicRow[]} topics
 * @param {Map<string, number>} rates records/s by topic
 */
function topicsTable(topics, rates) {
  return table(
    [
      { label: "Topic", render: (t) => h("a", { href: route("topics", t.name) }, t.name) },
      { label: "Partitions", numeric: true, render: (t) => formatNumber(t.partitions) },
      { label: "Replication", numeric: true, render: (t) => String(t.replication_factor) },
      { label: "Records", numeric: true, render: (t) => formatNumber(t.records) },
      { label: "Size", numeric: true, render: (t) => formatBytes(t.size_bytes) },
      { label: "Throughput", numeric: true, render: (t) => formatRate(rates.get(t.name)) },
      {
        label: "Status",
        render: (t) => {
          if (t.offline_partitions > 0) return badge(`${t.offline_partitions} offline`, "bad");
          if (t.under_replicated_partitions > 0)
            return badge(`${t.under_replicated_partitions} under-replicated`, "warn");
          return badge("OK", "ok");
        },
      },
    ],
    topics,
    { testid: "overview-topics-table", empty: "No topics yet", rowKey: (t) => t.name },
  );
}

/** @type {import("../app.js").PageRender} */
export default async function render(root, _params, ctx) {
  let showInternal = false;
  /** @type {{ at: number, ends: Map<string, number> } | null} */
  let previous = null;
  /** @type {Map<string, number>} */
  let rates = new Map();
  /** @type {ClusterView | null} */
  let last = null;
  const body = h("div", { "data-testid": "overview" });
  const internalToggle = h("input", {
    type: "checkbox",
    "data-testid": "show-internal",
    onchange: () => {
      showInternal = internalToggle.checked;
      if (last) draw(last);
    },
  });
  const subtitle = h("span", { class: "muted" });
  root.append(pageHeader("Overview", subtitle), body);

  /** @param {ClusterView} view */
  function draw(view) {
    clear(body);
    subtitle.textContent = `cluster ${view.cluster_id}`;
    const topics = view.topics.filter((t) => showInternal || !t.internal);
    body.append(
      healthStats(view),
      problems(view) ?? "",
      card("Brokers", h("div", { class: "table-wrap" }, brokersTable(view.brokers))),
      h(
        "section",
        { class: "card" },
        h(
          "div",
          { class: "card-head" },
          h("h2", null, "Topics"),
          h("label", { class: "check" }, internalToggle, " Show internal topics"),
        ),
        h("div", { class: "table-wrap" }, topicsTable(topics, rates)),
      ),
    );
  }

  async function poll() {
    /** @type {ClusterView} */
    const view = await ctx.api("GET", "/cluster");
    const now = performance.now();
    const ends = new Map(view.topics.map((t) => [t.name, t.log_end_offset_total]));
    if (previous !== null) {
      const seconds = (now - previous.at) / 1000;
      const prev = previous.ends;
      rates = new Map(
        [...ends]
          .filter(([name]) => prev.has(name))
          .map(([name, end]) => [name, Math.max(0, end - (prev.get(name) ?? end)) / seconds]),
      );
    }
    previous = { at: now, ends };
    last = view;
    draw(view);
  }

  await poll();
  const timer = setInterval(() => {
    poll().catch(() => {});
  }, POLL_MS);
  ctx.onLeave(() => clearInterval(timer));
}
