/**
 * `@hv/testkit`: test hv plugins without KVM. A {@link TestPartition} composes the plugins you name
 * (built-ins or your own registry), gives them guest RAM, shared state and VPs with a TSC you advance
 * by hand, and routes RDMSR/WRMSR/hypercalls through the same dispatch tables the emulator uses.
 * @module
 */
export * from "./src/partition.ts";
export * from "./src/access.ts";
