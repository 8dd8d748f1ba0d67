/**
 * The one tagged error loading can fail with. Its `message` is written for the person at the
 * command line: what in the file (or the options) is wrong, with offsets and addresses in hex.
 * @module
 */
import { Schema } from "effect";

/**
 * What kind of problem a {@link LoadError} reports:
 * - `not-a-kernel`: neither an ELF nor a Multiboot image ("not an ELF or multiboot image").
 * - `truncated`: a header, table or segment's data runs past the end of the file.
 * - `bad-header`: inconsistent fields (checksum mismatch, p_filesz > p_memsz, a.out kludge
 *   addresses out of order, entry point outside every loaded segment, overlapping segments, ...).
 * - `unsupported`: well-formed but not something hv loads (big-endian, wrong machine, required
 *   Multiboot features, 32-bit ELF without a Multiboot header, ...).
 * - `outside-ram`: a segment or module does not fit in guest RAM (or below 4 GiB for Multiboot).
 * - `overlap`: the kernel would overwrite the Multiboot information structure.
 * - `config`: the options do not fit (RAM below 1 MiB, command line too long, modules for a plain ELF64).
 */
export const LoadProblem = Schema.Literals([
  "not-a-kernel",
  "truncated",
  "bad-header",
  "unsupported",
  "outside-ram",
  "overlap",
  "config",
]);
/** One of {@link LoadProblem}'s values. */
export type LoadProblem = typeof LoadProblem.Type;

/**
 * A kernel image (or the options given with it) that cannot be loaded. When it is returned, guest
 * RAM has not been written at all: every check runs before the first byte is copied.
 */
export class LoadError extends Schema.TaggedError<LoadError>()("LoadError", {
  problem: LoadProblem,
  message: Schema.String,
}) {}
