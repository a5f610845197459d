// @ts-check
/**
 * The overview page (`#/`): the cluster's brokers and health, and its topics with size and
 * throughput.
 */
import { card, pageHeader, table } from "../ui.js";

/** @type {import("../app.js").PageRender} */
export default async function render(root, _params, ctx) {
  const { brokers } = await ctx.api("GET", "/brokers");
  root.append(
    pageHeader("Overview"),
    card(
      "Brokers",
      table([{ label: "Broker", render: (/** @type {number} */ id) => String(id) }], brokers, {
        testid: "brokers-table",
      }),
    ),
  );
}
