/**
 * ListGroups (key 16), v0-v5. Every group this coordinator holds (those of the loaded
 * `__consumer_offsets` partitions led here), with its protocol type; while a partition still
 * loads the answer also carries COORDINATOR_LOAD_IN_PROGRESS, as Kafka; v4+
 * filter by state (case-insensitive, as Kafka) and report it; v5+ filter by type (every group
 * here is "classic"). ACLs, as Kafka: DESCRIBE on the cluster lists every group, otherwise only
 * the groups the principal may DESCRIBE.
 */
import { errorCode } from "../../protocol/errors.js";
import type { ListGroupsRequestData, ListGroupsResponseData } from "../../protocol/types/list-groups.js";
import { onCluster } from "./authorized.js";
import type { ApiHandler } from "./types.js";

const GROUP_TYPE = "classic";

export const listGroups: ApiHandler<ListGroupsRequestData, ListGroupsResponseData> = {
  apiKey: 16,
  name: "ListGroups",
  minVersion: 0,
  maxVersion: 5,
  async handle(broker, request, ctx) {
    const states = (request.statesFilter ?? []).map((s) => s.toLowerCase());
    const types = (request.typesFilter ?? []).map((s) => s.toLowerCase());
    const everyGroup = onCluster(ctx, "DESCRIBE");
    const groups = broker.groups
      .allGroups()
      .filter((g) => g.state !== "Dead")
      .filter((g) => everyGroup || ctx.authorize("DESCRIBE", "GROUP", g.id))
      .filter((g) => ctx.apiVersion < 4 || states.length === 0 || states.includes(g.state.toLowerCase()))
      .filter(() => ctx.apiVersion < 5 || types.length === 0 || types.includes(GROUP_TYPE))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((g) => ({
        groupId: g.id,
        protocolType: g.protocolType ?? "",
        groupState: g.state,
        groupType: GROUP_TYPE,
      }));
    const loading = broker.groups.isLoading();
    return { throttleTimeMs: 0, errorCode: loading ? errorCode("COORDINATOR_LOAD_IN_PROGRESS") : 0, groups };
  },
};
