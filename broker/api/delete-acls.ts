/**
 * DeleteAcls (key 31), v1-3 (v0 removed in Kafka 4, KIP-896): one result per filter, in request
 * order, listing every binding it matched and removed (Kafka's AclBindingFilter: ANY and null
 * match anything, MATCH the bindings that apply to the named resource). Validation order, as
 * Kafka's: ALTER on the cluster -> CLUSTER_AUTHORIZATION_FAILED for every filter; then each
 * filter on its own: an unknown code in it -> INVALID_REQUEST (the others still apply). Written
 * through the cluster store by whichever broker is asked, in slices of ACL_FILTERS_MAX filters,
 * each matched against the bindings as the previous slice left them (within a slice, against the
 * bindings before it: a binding two filters match is removed once and reported by both); a slice
 * the store cannot write answers its error for itself and every filter after it. Served with or
 * without an authorizer (see describe-acls.ts).
 */
import type { KafkaError } from "../../protocol/errors.js";
import type {
  DeleteAclsFilterResult,
  DeleteAclsRequestData,
  DeleteAclsResponseData,
} from "../../protocol/types/delete-acls.js";
import { ACL_FILTERS_MAX, type AclDeletionResult } from "../metadata/acl-bindings.js";
import { bindingToWire, clusterDenied, filterFromWire, inSlices, messageOf } from "./acl-wire.js";
import type { ApiHandler } from "./types.js";

function failed(error: KafkaError): DeleteAclsFilterResult {
  return { errorCode: error.errorCode, errorMessage: messageOf(error), matchingAcls: [] };
}

function answered(r: AclDeletionResult): DeleteAclsFilterResult {
  if (r.error) return failed(r.error);
  return {
    errorCode: 0,
    errorMessage: null,
    matchingAcls: r.deleted.map((b) => ({ errorCode: 0, errorMessage: null, ...bindingToWire(b) })),
  };
}

export const deleteAcls: ApiHandler<DeleteAclsRequestData, DeleteAclsResponseData> = {
  apiKey: 31,
  name: "DeleteAcls",
  minVersion: 1,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    const denied = clusterDenied(ctx, "ALTER");
    if (denied) return { throttleTimeMs: 0, filterResults: request.filters.map(() => failed(denied)) };
    const filterResults = await inSlices(
      request.filters.map(filterFromWire),
      ACL_FILTERS_MAX,
      async (slice) => (await broker.store.deleteAcls(slice)).map(answered),
      failed,
    );
    return { throttleTimeMs: 0, filterResults };
  },
};
