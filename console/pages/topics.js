// @ts-check
/** The topics page (`#/topics`, `#/topics/<topic>`): list, create, configure, partitions. */
import { card, pageHeader, table } from "../ui.js";

/** @type {import("../app.js").PageRender} */
export default async function render(root, _params, ctx) {
  /** @type {string[]} */
  const topics = await ctx.api("GET", "/topics");
  root.append(
    pageHeader("Topics"),
    card(
      "",
      table([{ label: "Topic", render: (/** @type {string} */ t) => t }], topics, { testid: "topics-table" }),
    ),
  );
}
