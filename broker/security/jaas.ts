/**
 * Kafka's `sasl.jaas.config`: one JAAS login module entry, as a Kafka broker takes its own
 * credentials for the inter-broker listener:
 *
 *   org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="...";
 *
 * An entry is the module's class name, a control flag (required, requisite, sufficient or
 * optional), options `name=value` (a value is a word or a string in double or single quotes, in
 * which a backslash takes the next character as it is) and a closing `;`. samsa reads the username and
 * password of Kafka's SCRAM and PLAIN login modules; other options are ignored, any other module
 * (Kerberos, OAUTHBEARER) is refused. Every problem is one INVALID_CONFIG line that names the key
 * and never shows the value: it holds a password.
 */
import { KafkaError } from "../../protocol/errors.js";

export const JAAS_CONFIG_KEY = "sasl.jaas.config";

/** The login modules whose username and password samsa takes. */
export const SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule";
export const PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule";
const LOGIN_MODULES: readonly string[] = [SCRAM_LOGIN_MODULE, PLAIN_LOGIN_MODULE];

const CONTROL_FLAGS = ["required", "requisite", "sufficient", "optional"];

/** What a login module entry gives the broker: the name and password it logs in with. */
export interface JaasCredentials {
  loginModule: string;
  username: string;
  password: string;
}

function invalid(why: string): KafkaError {
  return new KafkaError("INVALID_CONFIG", `${JAAS_CONFIG_KEY}: ${why} (value not shown)`);
}

type Token = { kind: "word" | "quoted"; text: string } | { kind: "=" | ";" };

/** Splits an entry into words, quoted strings, `=` and `;`. */
function tokens(value: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "=" || c === ";") {
      out.push({ kind: c });
      i++;
    } else if (c === '"' || c === "'") {
      let text = "";
      for (i++; i < value.length && value[i] !== c; i++) {
        if (value[i] === "\\") i++;
        if (i < value.length) text += value[i];
      }
      if (i >= value.length) throw invalid("a quoted value is not closed");
      out.push({ kind: "quoted", text });
      i++;
    } else {
      const start = i;
      while (i < value.length && !/[\s=;"']/.test(value[i])) i++;
      out.push({ kind: "word", text: value.slice(start, i) });
    }
  }
  return out;
}

/** The text of a word or quoted token, else undefined. */
function textOf(token: Token | undefined): string | undefined {
  return token && (token.kind === "word" || token.kind === "quoted") ? token.text : undefined;
}

/** The options of an entry (the tokens after its control flag up to `;`), by name. */
function options(rest: Token[]): Map<string, string> {
  const found = new Map<string, string>();
  let i = 0;
  for (; i < rest.length && rest[i].kind !== ";"; i += 3) {
    const name = rest[i].kind === "word" ? textOf(rest[i]) : undefined;
    const value = textOf(rest[i + 2]);
    if (name === undefined || rest[i + 1]?.kind !== "=" || value === undefined)
      throw invalid("expected options name=value after the control flag");
    if (found.has(name)) throw invalid(`option ${name} is given twice`);
    found.set(name, value);
  }
  if (i >= rest.length) throw invalid("the entry must end with ;");
  if (i !== rest.length - 1) throw invalid("holds more than one login module entry");
  return found;
}

/** Parses one login module entry of Kafka's SCRAM or PLAIN login module (see the file comment). */
export function parseJaasConfig(value: string): JaasCredentials {
  const all = tokens(value);
  const loginModule = all[0]?.kind === "word" ? all[0].text : undefined;
  if (loginModule === undefined) throw invalid("expected a login module class name");
  if (!LOGIN_MODULES.includes(loginModule))
    throw invalid(
      `login module ${loginModule} is not supported: use ${SCRAM_LOGIN_MODULE} or ${PLAIN_LOGIN_MODULE}`,
    );
  const flag = all[1]?.kind === "word" ? all[1].text.toLowerCase() : undefined;
  if (flag === undefined || !CONTROL_FLAGS.includes(flag))
    throw invalid(`expected a control flag after the login module (${CONTROL_FLAGS.join(", ")})`);
  const found = options(all.slice(2));
  const username = found.get("username");
  const password = found.get("password");
  if (username === undefined || username === "") throw invalid("the login module needs a username");
  if (password === undefined) throw invalid("the login module needs a password");
  return { loginModule, username, password };
}
