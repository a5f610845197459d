/** The broker's structured logger: pino, JSON lines on stderr. */
import { type Logger, pino } from "pino";

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "samsa" } }, pino.destination(2));
}
