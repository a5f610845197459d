/**
 * SaslHandshake (key 17), v0-1: the client names the mechanism its SaslAuthenticate requests
 * (v1) or bare length-prefixed tokens (v0, which librdkafka's feature check still requires the
 * broker to list; dispatch.ts runs those tokens) will carry.
 * Validation order: a connection that is not on a SASL listener, or whose exchange is under way
 * -> ILLEGAL_SASL_STATE; a mechanism not in sasl.enabled.mechanisms -> UNSUPPORTED_SASL_MECHANISM
 * (the connection is answered, then closed, as Kafka's is). Every answer lists the enabled
 * mechanisms. A second handshake after authentication begins a re-authentication (KIP-368).
 */
import { errorCode } from "../../protocol/errors.js";
import type {
  SaslHandshakeRequestData,
  SaslHandshakeResponseData,
} from "../../protocol/types/sasl-handshake.js";
import type { SaslMechanism } from "../net/listeners.js";
import type { ApiHandler } from "./types.js";

export const saslHandshake: ApiHandler<SaslHandshakeRequestData, SaslHandshakeResponseData> = {
  apiKey: 17,
  name: "SaslHandshake",
  minVersion: 0,
  maxVersion: 1,
  async handle(broker, request, ctx) {
    const mechanisms: string[] = broker.sasl.mechanisms;
    const auth = ctx.auth;
    if (!auth?.sasl || auth.exchange !== null)
      return { errorCode: errorCode("ILLEGAL_SASL_STATE"), mechanisms };
    const wanted = request.mechanism.toUpperCase();
    if (!mechanisms.includes(wanted)) {
      auth.fail();
      broker.log.info(
        { peer: ctx.clientHost, listener: ctx.listener, mechanism: request.mechanism },
        "SASL mechanism not enabled: closing the connection",
      );
      return { errorCode: errorCode("UNSUPPORTED_SASL_MECHANISM"), mechanisms };
    }
    auth.beginHandshake(wanted as SaslMechanism);
    auth.rawTokens = ctx.apiVersion === 0;
    return { errorCode: 0, mechanisms };
  },
};
