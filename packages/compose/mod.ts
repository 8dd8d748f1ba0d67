/**
 * `@hv/compose`: turns a requested set of enlightenments (a profile, `--with`, `--without`,
 * `--set`) into a valid composition with its Hyper-V CPUID leaves and claim tables, or a tagged
 * error that names the problem and the fix.
 * @module
 */
export * from "./src/compose.ts";
export * from "./src/errors.ts";
export * from "./src/base.ts";
export * from "./src/version.ts";
