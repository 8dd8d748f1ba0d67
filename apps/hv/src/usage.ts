/**
 * The CLI's one error type: bad input from the person at the command line. `main.ts` prints its
 * `message` as one line (`hv: <message>`) on stderr and exits 2.
 * @module
 */
import { Schema } from "effect";

/** Bad input: what is wrong and the valid choices or the fix, in one line. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String,
}) {}

/** Exit code for bad input (unknown names, malformed flags, parse errors). */
export const EXIT_USAGE = 2;
