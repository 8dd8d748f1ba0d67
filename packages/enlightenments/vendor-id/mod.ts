/**
 * `@hv/vendor-id`: the `hv-vendor-id=STRING` property (hypervisor vendor string).
 * @module
 */
export { vendorId, VendorIdString } from "./src/vendor_id.ts";
