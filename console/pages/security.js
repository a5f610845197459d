// @ts-check
/**
 * The security page (`#/security`; issue 16, decision 0042): who the console's user is (GET
 * /whoami), and, once security is on (HTTP authentication or ACL checks), the SCRAM users (list,
 * create with a mechanism and password, delete) and the ACLs (list, add, remove) through
 * /security/users and /security/acls, which run as that user: what the user may not do, the
 * broker refuses (shown in the card). With security off it says so and how to turn it on.
 */
import { seg } from "../api.js";
import { stylesheet } from "../records.js";
import { badge, card, confirmDialog, field, h, pageHeader, showError, table } from "../ui.js";

/** @typedef {import("../app.js").PageContext} PageContext */
/**
 * @typedef {object} Binding
 * @property {string} resource_type
 * @property {string} resource_name
 * @property {string} pattern_type
 * @property {string} principal
 * @property {string} host
 * @property {string} operation
 * @property {string} permission
 */

/** The fields of a binding the form offers a choice for. */
const CHOICE_FIELDS = ["resource_type", "pattern_type", "operation", "permission"];

/** @returns {Record<string, string[]>} */
function emptyChoices() {
  return Object.fromEntries(CHOICE_FIELDS.map((f) => [f, []]));
}

/**
 * The names each choice field takes, as the broker's own schema of POST /security/acls lists
 * them in /openapi.json, so the form offers what the broker accepts and nothing it refuses.
 * @param {PageContext} ctx
 * @returns {Promise<Record<string, string[]>>}
 */
async function aclChoices(ctx) {
  const spec = await ctx.api("GET", "/openapi.json");
  const properties =
    spec?.paths?.["/security/acls"]?.post?.requestBody?.content?.["application/json"]?.schema?.properties ??
    {};
  /** @type {Record<string, string[]>} */
  const choices = {};
  for (const f of CHOICE_FIELDS) choices[f] = Array.isArray(properties[f]?.enum) ? properties[f].enum : [];
  return choices;
}

/** @type {import("../app.js").PageRender} */
export default async function render(root, _params, ctx) {
  stylesheet("/console/browse.css");
  const me = await ctx.api("GET", "/whoami");
  root.append(pageHeader("Security"), whoamiCard(me));
  if (!me.authentication && !me.authorization) {
    root.append(securityOff());
    return;
  }
  const users = h("div", { "data-testid": "users-card" });
  const acls = h("div", { "data-testid": "acls-card" });
  root.append(users, acls);
  await Promise.all([renderUsers(users, ctx), renderAcls(acls, ctx)]);
}

/**
 * @param {{ principal: string, authentication: boolean, authorization: boolean, cluster_operations: string[] }} me
 */
function whoamiCard(me) {
  /** @param {boolean} on */
  const state = (on) => badge(on ? "on" : "off", on ? "ok" : "muted");
  return card(
    "Who am I",
    h(
      "dl",
      { class: "kv" },
      h("dt", null, "Principal"),
      h("dd", { "data-testid": "whoami-principal" }, h("code", null, me.principal)),
      h("dt", null, "HTTP authentication"),
      h("dd", { "data-testid": "whoami-authentication" }, state(me.authentication)),
      h("dt", null, "ACL checks"),
      h("dd", { "data-testid": "whoami-authorization" }, state(me.authorization)),
      h("dt", null, "On the cluster you may"),
      h(
        "dd",
        { "data-testid": "whoami-operations" },
        me.cluster_operations.length === 0
          ? h("span", { class: "muted" }, "nothing")
          : me.cluster_operations.join(", "),
      ),
    ),
  );
}

function securityOff() {
  return h(
    "section",
    { class: "card security-off", "data-testid": "security-off" },
    h("h2", null, "Security is off"),
    h(
      "p",
      null,
      "Anyone who reaches this port acts as User:ANONYMOUS, and no ACL is checked. To turn security on:",
    ),
    h(
      "ol",
      null,
      h(
        "li",
        null,
        "Create a user (before the broker starts): ",
        h("code", null, "samsa storage format --add-scram 'SCRAM-SHA-256=[name=admin,password=...]'"),
        ".",
      ),
      h(
        "li",
        null,
        "Add a SASL listener (",
        h("code", null, "listeners=SASL_PLAINTEXT://:9093"),
        ") — the HTTP port then asks for a user and password (",
        h("code", null, "http.authentication=auto"),
        "; ",
        h("code", null, "basic"),
        " asks without one).",
      ),
      h(
        "li",
        null,
        "Check ACLs: ",
        h("code", null, "authorizer.class.name=StandardAuthorizer"),
        " and ",
        h("code", null, "super.users=User:admin"),
        ".",
      ),
    ),
    h("p", { class: "muted" }, "Users and ACLs are managed here once either is on."),
  );
}

/**
 * A refusal shown inside a card instead of its content.
 * @param {unknown} err
 */
function refusal(err) {
  const e = /** @type {{ code?: string, message?: string }} */ (err);
  return h(
    "p",
    { class: "muted", "data-testid": "refused" },
    h("strong", null, e.code ?? "ERROR"),
    " ",
    e.message ?? String(err),
  );
}

/**
 * @param {string} testid
 * @param {string[]} values
 */
function choice(testid, values) {
  return h(
    "select",
    { "data-testid": testid },
    values.map((v) => h("option", { value: v }, v)),
  );
}

/**
 * @param {HTMLElement} box
 * @param {PageContext} ctx
 */
async function renderUsers(box, ctx) {
  const rerender = () =>
    renderUsers(box, ctx).catch((err) => {
      showError(err);
    });
  let listing;
  try {
    /** @type {{ users: { name: string, mechanisms: { mechanism: string, iterations: number }[] }[] }} */
    const answer = await ctx.api("GET", "/security/users");
    listing = table(
      [
        { label: "User", render: (u) => h("code", null, u.name) },
        {
          label: "Mechanisms",
          render: (u) => u.mechanisms.map((m) => `${m.mechanism} (${m.iterations} iterations)`).join(", "),
        },
        {
          label: "",
          render: (u) =>
            h(
              "button",
              {
                class: "btn btn-small btn-danger",
                "data-testid": `user-delete-${u.name}`,
                onclick: async () => {
                  if (
                    !(await confirmDialog(`Delete user ${u.name}? It can no longer log in.`, {
                      ok: "Delete",
                      danger: true,
                    }))
                  )
                    return;
                  await ctx.api("DELETE", `/security/users/${seg(u.name)}`).then(rerender, showError);
                },
              },
              "Delete",
            ),
        },
      ],
      answer.users,
      { testid: "users-table", empty: "No users.", rowKey: (u) => u.name },
    );
  } catch (err) {
    listing = refusal(err);
  }
  const name = h("input", { "data-testid": "user-name", placeholder: "alice", autocomplete: "off" });
  const password = h("input", {
    "data-testid": "user-password",
    type: "password",
    autocomplete: "new-password",
  });
  const mechanism = choice("user-mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"]);
  const create = async () => {
    await ctx.api("POST", "/security/users", {
      name: name.value,
      password: password.value,
      mechanism: mechanism.value,
    });
    await rerender();
  };
  const form = h(
    "form",
    {
      class: "form",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        create().catch(showError);
      },
    },
    field("Name", name),
    field("Password", password),
    field("Mechanism", mechanism),
    h(
      "div",
      { class: "field" },
      h(
        "button",
        { class: "btn btn-primary", type: "submit", "data-testid": "user-create" },
        "Create or set password",
      ),
    ),
  );
  box.replaceChildren(card("Users (SCRAM)", listing, h("h3", null, "Add a user"), form));
}

/**
 * @param {HTMLElement} box
 * @param {PageContext} ctx
 */
async function renderAcls(box, ctx) {
  const rerender = () =>
    renderAcls(box, ctx).catch((err) => {
      showError(err);
    });
  // Asked beside the listing; a form with no names to offer stays empty rather than failing the card.
  const choices = aclChoices(ctx).catch(() => emptyChoices());
  let listing;
  try {
    /** @type {{ acls: Binding[] }} */
    const answer = await ctx.api("GET", "/security/acls");
    listing = table(
      [
        {
          label: "Resource",
          render: (b) =>
            `${b.resource_type} ${b.pattern_type === "PREFIXED" ? "prefix " : ""}${b.resource_name}`,
        },
        { label: "Principal", render: (b) => h("code", null, b.principal) },
        { label: "Host", key: "host" },
        { label: "Operation", key: "operation" },
        { label: "Permission", render: (b) => badge(b.permission, b.permission === "ALLOW" ? "ok" : "bad") },
        {
          label: "",
          render: (b) =>
            h(
              "button",
              {
                class: "btn btn-small btn-danger",
                "data-testid": "acl-remove",
                onclick: async () => {
                  if (
                    !(await confirmDialog(
                      `Remove ${b.permission} ${b.operation} on ${b.resource_type} ${b.resource_name} for ${b.principal}?`,
                      { ok: "Remove", danger: true },
                    ))
                  )
                    return;
                  const query = new URLSearchParams(/** @type {Record<string, string>} */ ({ ...b }));
                  await ctx.api("DELETE", `/security/acls?${query}`).then(rerender, showError);
                },
              },
              "Remove",
            ),
        },
      ],
      answer.acls,
      { testid: "acls-table", empty: "No ACLs." },
    );
  } catch (err) {
    listing = refusal(err);
  }
  const form = aclForm(ctx, await choices, rerender);
  box.replaceChildren(card("ACLs", listing, h("h3", null, "Add an ACL"), form));
}

/**
 * @param {PageContext} ctx
 * @param {Record<string, string[]>} choices
 * @param {() => Promise<void>} rerender
 */
function aclForm(ctx, choices, rerender) {
  const inputs = {
    resource_type: choice("acl-resource-type", choices.resource_type),
    resource_name: h("input", { "data-testid": "acl-resource-name", placeholder: "orders, or * for all" }),
    pattern_type: choice("acl-pattern-type", choices.pattern_type),
    principal: h("input", { "data-testid": "acl-principal", placeholder: "User:alice", value: "User:" }),
    host: h("input", { "data-testid": "acl-host", value: "*" }),
    operation: choice("acl-operation", choices.operation),
    permission: choice("acl-permission", choices.permission),
  };
  // The broker lists DENY first (the protocol's order); a new ACL is usually an ALLOW.
  if (choices.permission.includes("ALLOW")) inputs.permission.value = "ALLOW";
  const add = async () => {
    /** @type {Record<string, string>} */
    const binding = {};
    for (const [k, el] of Object.entries(inputs)) binding[k] = el.value;
    if (binding.resource_type === "CLUSTER" && binding.resource_name === "")
      binding.resource_name = "kafka-cluster";
    await ctx.api("POST", "/security/acls", binding);
    await rerender();
  };
  return h(
    "form",
    {
      class: "form",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        add().catch(showError);
      },
    },
    field("Resource type", inputs.resource_type),
    field("Resource name", inputs.resource_name),
    field("Pattern", inputs.pattern_type),
    field("Principal", inputs.principal),
    field("Host", inputs.host),
    field("Operation", inputs.operation),
    field("Permission", inputs.permission),
    h(
      "div",
      { class: "field" },
      h("button", { class: "btn btn-primary", type: "submit", "data-testid": "acl-add" }, "Add ACL"),
    ),
  );
}
