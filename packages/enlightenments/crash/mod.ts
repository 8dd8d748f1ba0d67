/**
 * `@hv/crash`: the `hv-crash` enlightenment (guest crash reporting MSRs).
 * @module
 */
export { crash } from "./src/crash.ts";
export {
  CRASH,
  CRASH_CTL_CAPABILITIES,
  crashHandlers,
  crashPartitionState,
  crashReport,
  type CrashViews,
  readCrashMessage,
} from "./src/behaviour.ts";
