/**
 * `@hv/avic`: the `hv-avic` enlightenment (AutoEOI deprecation for APICv/AVIC).
 * @module
 */
export { avic } from "./src/avic.ts";
