/**
 * `@hv/no-nonarch-coresharing`: the `hv-no-nonarch-coresharing` enlightenment (core-sharing hint).
 * @module
 */
export { noNonarchCoresharing } from "./src/no_nonarch_coresharing.ts";
