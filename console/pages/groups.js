// @ts-check
/**
 * The consumer groups page. `#/groups`: every group with its state, members and total lag
 * (GET /groups, then GET /groups/{g} for each). `#/groups/<group>`: the group's state, members
 * with their assignments, and committed offsets with log end offsets and lag per partition,
 * refreshed every POLL_MS; and the offset reset of an empty group: choose all topics or one and
 * a target (earliest, latest, a time, an offset), Preview (a dry run: current -> new per
 * partition), then Reset (after a confirmation) commits exactly what the preview showed.
 */
import { seg } from "../api.js";
import {
  badge,
  busy,
  card,
  clear,
  confirmDialog,
  every,
  field,
  formatNumber,
  h,
  pageHeader,
  route,
  showNotice,
  stat,
  table,
} from "../ui.js";

/** How often a group's page asks again. */
const POLL_MS = 5000;
/** Groups described at once on the list page. */
const DESCRIBE_BATCH = 8;

/**
 * @typedef {import("../app.js").PageContext} PageContext
 * @typedef {{ group_id: string, protocol_type: string, state: string }} ListedGroup
 * @typedef {{ member_id: string, group_instance_id: string | null, client_id: string, client_host: string,
 *   assignments: { topic: string, partitions: number[] }[] }} Member
 * @typedef {{ topic: string, partition: number, committed_offset: number | null, log_end_offset: number | null,
 *   lag: number | null, member_id: string | null }} OffsetRow
 * @typedef {{ group_id: string, state: string, protocol_type: string, protocol: string | null, members: Member[],
 *   offsets: OffsetRow[], total_lag: number }} GroupView
 * @typedef {{ topic: string, partition: number, current_offset: number | null, new_offset: number,
 *   log_start_offset: number, log_end_offset: number }} ResetRow
 */

/** @type {import("../app.js").PageRender} */
export default async function render(root, params, ctx) {
  if (params[0] !== undefined) return groupPage(root, params[0], ctx);
  return listPage(root, ctx);
}

/** @param {string} state */
function stateBadge(state) {
  const kind = state === "Stable" ? "ok" : state === "Empty" ? "muted" : state === "Dead" ? "bad" : "warn";
  return h("span", { "data-testid": "group-state" }, badge(state || "Unknown", kind));
}

/**
 * @param {HTMLElement} root
 * @param {PageContext} ctx
 */
async function listPage(root, ctx) {
  /** @type {{ groups: ListedGroup[], unanswered: number[] }} */
  const { groups, unanswered } = await ctx.api("GET", "/groups");
  /** @type {Map<string, GroupView>} */
  const details = new Map();
  for (let i = 0; i < groups.length; i += DESCRIBE_BATCH) {
    const batch = groups.slice(i, i + DESCRIBE_BATCH);
    const views = await Promise.all(
      batch.map((g) => ctx.api("GET", `/groups/${seg(g.group_id)}`).catch(() => null)),
    );
    batch.forEach((g, j) => {
      if (views[j]) details.set(g.group_id, views[j]);
    });
  }
  // The list merges every broker's groups; a broker that did not answer leaves its groups out.
  const missing =
    unanswered.length > 0
      ? h(
          "p",
          { class: "muted", "data-testid": "groups-unanswered" },
          `No answer from brokers ${unanswered.join(", ")}: the groups they coordinate are missing`,
        )
      : "";
  root.append(
    pageHeader("Consumer groups"),
    missing,
    card(
      "",
      table(
        [
          { label: "Group", render: (g) => h("a", { href: route("groups", g.group_id) }, g.group_id) },
          { label: "State", render: (g) => stateBadge(g.state) },
          { label: "Protocol", render: (g) => g.protocol_type || "—" },
          {
            label: "Members",
            numeric: true,
            render: (g) => formatNumber(details.get(g.group_id)?.members.length),
          },
          {
            label: "Topics",
            render: (g) =>
              [...new Set(details.get(g.group_id)?.offsets.map((o) => o.topic) ?? [])].join(", ") || "—",
          },
          {
            label: "Total lag",
            numeric: true,
            render: (g) => formatNumber(details.get(g.group_id)?.total_lag),
          },
        ],
        groups,
        { testid: "groups-table", empty: "No consumer groups", rowKey: (g) => g.group_id },
      ),
    ),
  );
}

/** @param {Member[]} members */
function membersTable(members) {
  return table(
    [
      { label: "Member", render: (m) => h("span", { class: "mono" }, m.member_id) },
      { label: "Client", render: (m) => m.client_id },
      { label: "Host", render: (m) => m.client_host },
      { label: "Instance", render: (m) => m.group_instance_id ?? "—" },
      {
        label: "Assignment",
        render: (m) => m.assignments.map((a) => `${a.topic}: ${a.partitions.join(", ")}`).join("; ") || "—",
      },
    ],
    members,
    { testid: "members-table", empty: "No members: the group is empty" },
  );
}

/**
 * A note naming the partitions whose log end is unknown (their leader did not answer, or their
 * topic is gone), whose lag the total leaves out; nothing when every log end is known.
 * @param {OffsetRow[]} offsets
 */
function unknownEnds(offsets) {
  const unknown = offsets.filter((o) => o.log_end_offset === null).map((o) => `${o.topic}/${o.partition}`);
  if (unknown.length === 0) return [];
  return [
    h(
      "p",
      { class: "muted", "data-testid": "offsets-unknown" },
      `Log end unknown for ${unknown.join(", ")}: no leader answered, or the topic is gone. Their lag is not in the total.`,
    ),
  ];
}

/** @param {OffsetRow[]} offsets */
function offsetsTable(offsets) {
  return table(
    [
      { label: "Topic", render: (o) => h("a", { href: route("topics", o.topic) }, o.topic) },
      { label: "Partition", numeric: true, render: (o) => String(o.partition) },
      { label: "Committed", numeric: true, render: (o) => formatNumber(o.committed_offset) },
      { label: "Log end", numeric: true, render: (o) => formatNumber(o.log_end_offset) },
      {
        label: "Lag",
        numeric: true,
        render: (o) =>
          o.lag !== null && o.lag > 0 ? h("strong", null, formatNumber(o.lag)) : formatNumber(o.lag),
      },
      { label: "Member", render: (o) => (o.member_id ? h("span", { class: "mono" }, o.member_id) : "—") },
    ],
    offsets,
    { testid: "offsets-table", empty: "No committed offsets", rowKey: (o) => `${o.topic}/${o.partition}` },
  );
}

/**
 * @param {HTMLElement} root
 * @param {string} groupId
 * @param {PageContext} ctx
 */
async function groupPage(root, groupId, ctx) {
  const status = h("div");
  const members = h("section", { class: "card" });
  const offsets = h("section", { class: "card" });
  const resetBox = h("section", { class: "card", "data-testid": "reset-card" });
  root.append(
    h("div", { class: "muted", style: "margin-bottom:4px" }, h("a", { href: "#/groups" }, "Groups"), " / "),
    pageHeader(groupId),
    status,
    members,
    offsets,
    resetBox,
  );
  /** @type {GroupView | null} */
  let view = null;
  async function load() {
    /** @type {GroupView} */
    const fresh = await ctx.api("GET", `/groups/${seg(groupId)}`);
    view = fresh;
    drawGroup(fresh);
  }
  /** @param {GroupView} g */
  function drawGroup(g) {
    clear(status);
    status.append(
      h(
        "div",
        { class: "cards" },
        stat("State", stateBadge(g.state)),
        stat("Members", formatNumber(g.members.length), "stat-members"),
        stat("Total lag", formatNumber(g.total_lag), "stat-lag"),
        stat("Protocol", `${g.protocol_type || "—"}${g.protocol ? ` / ${g.protocol}` : ""}`),
      ),
    );
    clear(members);
    members.append(h("h2", null, "Members"), h("div", { class: "table-wrap" }, membersTable(g.members)));
    clear(offsets);
    offsets.append(
      h("h2", null, "Offsets and lag"),
      ...unknownEnds(g.offsets),
      h("div", { class: "table-wrap" }, offsetsTable(g.offsets)),
    );
    resetNote.hidden = g.members.length === 0;
  }
  const resetNote = h(
    "p",
    { class: "muted", "data-testid": "reset-note", hidden: true },
    "Offsets can be reset only while the group has no members: stop its consumers first.",
  );
  await load();
  const topics = [...new Set((view ? /** @type {GroupView} */ (view).offsets : []).map((o) => o.topic))];
  resetForm(resetBox, groupId, topics, resetNote, ctx, load);
  every(POLL_MS, load, ctx.onLeave);
}

/**
 * @param {HTMLElement} box
 * @param {string} groupId
 * @param {string[]} topics topics with committed offsets
 * @param {HTMLElement} note
 * @param {PageContext} ctx
 * @param {() => Promise<void>} reload
 */
function resetForm(box, groupId, topics, note, ctx, reload) {
  const topic = h(
    "select",
    { "data-testid": "reset-topic" },
    h("option", { value: "" }, "All committed topics"),
    topics.map((t) => h("option", { value: t }, t)),
  );
  const to = h(
    "select",
    { "data-testid": "reset-to" },
    h("option", { value: "earliest" }, "Earliest offset"),
    h("option", { value: "latest" }, "Latest offset"),
    h("option", { value: "timestamp" }, "Time"),
    h("option", { value: "offset" }, "Offset"),
  );
  const time = h("input", { type: "datetime-local", step: 1, "data-testid": "reset-timestamp" });
  const offset = h("input", { type: "number", min: 0, value: "0", "data-testid": "reset-offset" });
  const timeField = field("Time (local)", time);
  const offsetField = field("Offset", offset);
  const preview = h("button", { class: "btn", type: "submit", "data-testid": "reset-preview" }, "Preview");
  const result = h("div", { class: "preview" });
  const sync = () => {
    timeField.hidden = to.value !== "timestamp";
    offsetField.hidden = to.value !== "offset";
    clear(result);
  };
  to.addEventListener("change", sync);
  topic.addEventListener("change", sync);
  const body = () => {
    /** @type {Record<string, unknown>} */
    const b = { to: to.value };
    if (topic.value !== "") b.topic = topic.value;
    if (to.value === "timestamp")
      b.timestamp = time.value === "" ? Date.now() : new Date(time.value).getTime();
    if (to.value === "offset") b.offset = Number(offset.value);
    return b;
  };
  const form = h(
    "form",
    null,
    h("div", { class: "form" }, field("Topics", topic), field("Reset to", to), timeField, offsetField),
    h("div", { class: "form-actions" }, preview),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(preview, async () => {
      const request = body();
      /** @type {{ partitions: ResetRow[] }} */
      const answer = await ctx.api("POST", `/groups/${seg(groupId)}/offsets/reset`, {
        ...request,
        dry_run: true,
      });
      showPreview(result, answer.partitions, async () => {
        const yes = await confirmDialog(
          `Commit these ${answer.partitions.length} offsets for group ${groupId}?`,
          { ok: "Reset offsets" },
        );
        if (!yes) return;
        /** @type {{ partitions: ResetRow[] }} */
        const done = await ctx.api("POST", `/groups/${seg(groupId)}/offsets/reset`, {
          ...request,
          dry_run: false,
        });
        clear(result);
        showNotice(`Offsets of ${done.partitions.length} partitions of ${groupId} reset`);
        await reload();
      });
    });
  });
  clear(box);
  box.append(h("h2", null, "Reset offsets"), note, form, result);
  sync();
}

/**
 * @param {HTMLElement} box
 * @param {ResetRow[]} rows
 * @param {() => Promise<void>} apply
 */
function showPreview(box, rows, apply) {
  const button = h("button", { class: "btn btn-primary", "data-testid": "reset-apply" }, "Reset offsets");
  button.addEventListener("click", () => void busy(button, apply));
  clear(box);
  box.append(
    h("h2", null, "Preview"),
    table(
      [
        { label: "Topic", render: (r) => r.topic },
        { label: "Partition", numeric: true, render: (r) => String(r.partition) },
        { label: "Current", numeric: true, render: (r) => formatNumber(r.current_offset) },
        { label: "", render: () => h("span", { class: "arrow" }, "→") },
        {
          label: "New",
          numeric: true,
          render: (r) =>
            h(
              "span",
              { class: r.new_offset !== r.current_offset ? "changed" : "" },
              formatNumber(r.new_offset),
            ),
        },
        { label: "Log start", numeric: true, render: (r) => formatNumber(r.log_start_offset) },
        { label: "Log end", numeric: true, render: (r) => formatNumber(r.log_end_offset) },
      ],
      rows,
      {
        testid: "reset-preview-table",
        empty: "No partitions to reset",
        rowKey: (r) => `${r.topic}/${r.partition}`,
      },
    ),
    h("div", { class: "actions", style: "margin-top:12px" }, button),
  );
}
