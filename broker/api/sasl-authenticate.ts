/**
 * SaslAuthenticate (key 36), v0-2: one message of the SASL exchange the last SaslHandshake chose.
 * Validation order: no SASL listener, or no handshake before it -> ILLEGAL_SASL_STATE (closed);
 * the mechanism's own checks (PLAIN: the password against the user's SCRAM credential; SCRAM:
 * RFC 5802's nonce, channel binding and proof) -> SASL_AUTHENTICATION_FAILED with a message
 * that does not tell an unknown user from a wrong password, answered after
 * connection.failed.authentication.delay.ms and then closed, and logged at warn level; a
 * re-authentication as another principal -> SASL_AUTHENTICATION_FAILED (closed).
 * Success sets the connection's principal (`User:<name>`); SessionLifetimeMs (v1+) is
 * connections.max.reauth.ms, or 0 when that is off (KIP-368).
 */
import { errorCode, KafkaError } from "../../protocol/errors.js";
import type {
  SaslAuthenticateRequestData,
  SaslAuthenticateResponseData,
} from "../../protocol/types/sasl-authenticate.js";
import type { Broker } from "../broker.js";
import type { ConnectionAuth } from "../net/connection-auth.js";
import { saslExchange } from "../security/sasl-exchange.js";
import type { ApiHandler, RequestContext } from "./types.js";

type Response = SaslAuthenticateResponseData;

const EMPTY: Buffer = Buffer.alloc(0);

function answer(
  code: Parameters<typeof errorCode>[0] | null,
  message: string | null,
  bytes: Buffer = EMPTY,
): Response {
  return {
    errorCode: code === null ? 0 : errorCode(code),
    errorMessage: message,
    authBytes: bytes,
    sessionLifetimeMs: 0,
  };
}

async function refuse(
  broker: Broker,
  ctx: RequestContext,
  auth: ConnectionAuth,
  err: unknown,
): Promise<Response> {
  auth.fail();
  const known = KafkaError.is(err, "SASL_AUTHENTICATION_FAILED") || KafkaError.is(err, "ILLEGAL_SASL_STATE");
  const code = known ? (err as KafkaError).code : "SASL_AUTHENTICATION_FAILED";
  const message = known ? (err as KafkaError).message.replace(/^[A-Z_]+: /, "") : "Authentication failed";
  broker.log.warn(
    {
      peer: ctx.clientHost,
      listener: ctx.listener,
      clientId: ctx.clientId,
      err: (err as Error).cause ?? err,
    },
    "SASL authentication failed: closing the connection",
  );
  const delayMs = broker.config.failedAuthenticationDelayMs;
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  return answer(code as Parameters<typeof errorCode>[0], message);
}

/**
 * Runs one client message of the connection's SASL exchange (begun by the last SaslHandshake):
 * the reply, and the principal once the exchange completed. Throws a KafkaError on failure; the
 * caller ends the connection. Shared by SaslAuthenticate and v0's bare tokens (dispatch.ts).
 */
export async function saslStep(
  broker: Broker,
  auth: ConnectionAuth,
  message: Buffer,
): Promise<{ reply: Buffer; principal: string | null }> {
  let exchange = auth.exchange;
  if (!exchange) {
    const mechanism = auth.pendingMechanism;
    if (!mechanism) throw new KafkaError("ILLEGAL_SASL_STATE", "SaslHandshake first");
    exchange = saslExchange(mechanism, broker.sasl.credential);
    auth.startExchange(exchange);
  }
  const step = await exchange.evaluate(message);
  if (step.username === null) return { reply: step.reply, principal: null };
  const principal = `User:${step.username}`;
  if (!auth.complete(principal, broker.config.connectionsMaxReauthMs))
    throw new KafkaError("SASL_AUTHENTICATION_FAILED", "re-authentication may not change the principal");
  return { reply: step.reply, principal };
}

export const saslAuthenticate: ApiHandler<SaslAuthenticateRequestData, Response> = {
  apiKey: 36,
  name: "SaslAuthenticate",
  minVersion: 0,
  maxVersion: 2,
  async handle(broker, request, ctx) {
    const auth = ctx.auth;
    if (!auth?.sasl) return answer("ILLEGAL_SASL_STATE", "this listener does not use SASL");
    let step: { reply: Buffer; principal: string | null };
    try {
      step = await saslStep(broker, auth, request.authBytes);
    } catch (err) {
      return refuse(broker, ctx, auth, err);
    }
    if (step.principal === null) return answer(null, null, step.reply);
    broker.log.debug(
      { peer: ctx.clientHost, listener: ctx.listener, principal: step.principal },
      "SASL authenticated",
    );
    return { ...answer(null, null, step.reply), sessionLifetimeMs: broker.config.connectionsMaxReauthMs };
  },
};
