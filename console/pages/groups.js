// @ts-check
/** The consumer groups page (`#/groups`, `#/groups/<group>`): state, members, lag, offset resets. */
import { card, pageHeader } from "../ui.js";

/** @type {import("../app.js").PageRender} */
export default async function render(root) {
  root.append(pageHeader("Consumer groups"), card("", "Loading groups…"));
}
