/**
 * CreateAcls (key 30), v1-3 (v0 removed in Kafka 4, KIP-896): one result per creation, in
 * request order. Validation order, as Kafka's: ALTER on the cluster -> CLUSTER_AUTHORIZATION_FAILED
 * for every creation; then each binding on its own, by the store's rules
 * (broker/metadata/acl-bindings.ts): an unknown or non-concrete code (ANY, MATCH, UNKNOWN), an
 * empty resource name, a CLUSTER name other than "kafka-cluster", a principal not "Type:name",
 * an empty host or a name beyond samsa's bounds -> INVALID_REQUEST; past the cluster's or the
 * resource pattern's binding cap -> POLICY_VIOLATION. A binding that exists already is a success.
 * Written through the cluster store by whichever broker is asked (as AlterUserScramCredentials),
 * in slices of ACL_CREATIONS_MAX: a slice the store cannot write answers its error for itself and
 * every creation after it. Served with or without an authorizer (see describe-acls.ts).
 */

import type { KafkaError } from "../../protocol/errors.js";
import type {
  CreateAclsRequestData,
  CreateAclsResponseData,
  AclCreationResult as WireCreationResult,
} from "../../protocol/types/create-acls.js";
import { ACL_CREATIONS_MAX } from "../metadata/acl-bindings.js";
import { bindingFromWire, clusterDenied, inSlices, messageOf } from "./acl-wire.js";
import type { ApiHandler } from "./types.js";

function result(error: KafkaError | null): WireCreationResult {
  return error
    ? { errorCode: error.errorCode, errorMessage: messageOf(error) }
    : { errorCode: 0, errorMessage: null };
}

export const createAcls: ApiHandler<CreateAclsRequestData, CreateAclsResponseData> = {
  apiKey: 30,
  name: "CreateAcls",
  minVersion: 1,
  maxVersion: 3,
  async handle(broker, request, ctx) {
    const denied = clusterDenied(ctx, "ALTER");
    if (denied) return { throttleTimeMs: 0, results: request.creations.map(() => result(denied)) };
    const bindings = request.creations.map(bindingFromWire);
    const results = await inSlices(
      bindings,
      ACL_CREATIONS_MAX,
      async (slice) => (await broker.store.createAcls(slice)).map((r) => result(r.error)),
      result,
    );
    return { throttleTimeMs: 0, results };
  },
};
