/**
 * `@hv/devices`: the port-I/O devices of an hv machine, with QEMU's conventions so test kernels
 * written for QEMU run unchanged: the {@link IoBus} (unclaimed ports read all-ones), a 16550 UART on
 * COM1, `isa-debug-exit`, fw_cfg's traditional interface, `hyperv-testdev`, and the MC146818
 * RTC/CMOS (its NVRAM in a shared buffer that outlives a power cycle).
 *
 * Everything reachable from a guest access is synchronous, allocation-free and never throws; only
 * setup (registering devices, building fw_cfg items) can throw.
 * @module
 */
export * from "./src/bus.ts";
export * from "./src/uart.ts";
export * from "./src/debug_exit.ts";
export * from "./src/fw_cfg.ts";
export * from "./src/hyperv_testdev.ts";
export * from "./src/cmos.ts";
