/**
 * `hv run --backend passthrough`: compose, preflight (refuse before creating anything, with exit
 * code 2 and one stderr line, on a host without in-kernel Hyper-V), then set up and boot through
 * `@hv/machine` with the passthrough hooks, and report the outcome as the emulator does (crash
 * report file, probe table). Mirrors `@hv/emulator`'s `runEmulator(options, io)`.
 * @module
 */
import { Effect } from "effect";
import { type ComposeRequest, type Composition, compose } from "@hv/compose";
import { DEBUG_EXIT_BASE, IsaDebugExit } from "@hv/devices";
import { finishRun, prepareGuest, type RunIo, type RunOptions } from "@hv/emulator";
import { exitReasonName, KVM_EXIT_IO, KVM_EXIT_SHUTDOWN } from "@hv/kvm";
import * as machineModule from "@hv/machine";
import { EXIT_GUEST_FAULT, EXIT_VMM_ERROR, type MachineConfig, type RunOutcome, type RunResult, runMachine } from "@hv/machine";
import { GuestMemory, type PartitionView } from "@hv/x86";
import { createPassthroughHyperv, passthroughPartition, PassthroughVcpuExits } from "./hyperv_exit.ts";
import { type KvmService, RealKvmService } from "./kvm_service.ts";
import { type MachineBackendHooks, passthroughMachineBackend } from "./machine_backend.ts";
import { type PassthroughPlan, PassthroughUnavailable, preflight } from "./preflight.ts";
import { setupPassthroughVm } from "./setup.ts";
import { HypervEventConnections, PassthroughSynic } from "./synic_delivery.ts";

/** Exit code of a refusal the user can fix (unknown enlightenment, passthrough unavailable here, unreadable kernel). */
export const EXIT_USAGE = 2;

/**
 * What a boot function gets: the plan, the service the preflight used, the machine configuration
 * `runMachine` takes today (Hyper-V spec included), and the machine hooks of the passthrough backend.
 */
export interface PassthroughBoot {
  readonly plan: PassthroughPlan;
  readonly service: KvmService;
  readonly machine: MachineConfig;
  readonly hooks: MachineBackendHooks;
  /**
   * {@link bootWithService} only: called once the partition exists, with its SINT delivery and (with
   * KVM_CAP_HYPERV_EVENTFD) event connections, so a test can post messages as a VMM device would.
   */
  readonly onSynic?: (s: { synic: PassthroughSynic; partition: PartitionView; events?: HypervEventConnections }) => void;
}

/**
 * Injectable parts of {@link runPassthrough}:
 * - `service`: the KVM service (default: a {@link RealKvmService} on /dev/kvm, closed at the end;
 *   a service passed in is left open for inspection);
 * - `boot`: runs the VM (default: {@link bootOnMachine} for the real service, {@link bootWithService}
 *   for any other, e.g. the simulated kernel).
 */
export interface PassthroughDeps {
  readonly service?: KvmService;
  readonly boot?: (b: PassthroughBoot) => Promise<RunResult>;
}

/**
 * The real boot: `@hv/machine`'s `runMachine` with `backend: hooks`. Until the machine exports
 * `MACHINE_BACKEND_HOOKS` (the proposed `MachineConfig.backend`, see `machine_backend.ts`) it would
 * silently run the emulator's setup instead, so it refuses with a VMM error naming the missing hook.
 */
export async function bootOnMachine(b: PassthroughBoot): Promise<RunResult> {
  if ((machineModule as Record<string, unknown>).MACHINE_BACKEND_HOOKS !== true) {
    return {
      outcome: {
        kind: "error",
        code: EXIT_VMM_ERROR,
        message: "this @hv/machine cannot host the passthrough backend yet: it needs MachineConfig.backend " +
          "(setupVm/setupVcpu/workerModule hooks, see apps/kvm-passthrough/src/machine_backend.ts); use --backend emulator",
      },
      exits: [],
      seconds: 0,
    };
  }
  return await runMachine({ ...b.machine, backend: b.hooks } as MachineConfig);
}

/**
 * The boot path against a {@link KvmService} alone: {@link setupPassthroughVm} (the ioctl sequence
 * the machine hooks perform, SINT routes included), then vCPU 0's run loop through the service, each
 * exit first offered to {@link PassthroughVcpuExits} (KVM_EXIT_HYPERV, crash, reset), then what the
 * machine's worker does with the rest (isa-debug-exit on port 0xF4 ends the run with
 * `(value << 1) | 1`; a triple fault is a fault; other port writes are ignored). After each exit it
 * also does a host thread's part: SINT acks (EOM retries) for every VP and, with
 * KVM_CAP_HYPERV_EVENTFD, the bound event connections. No RAM is mapped into KVM and no kernel is
 * loaded: with the simulated kernel, scripted exits stand in for the guest, which is how the boot
 * path is exercised on a host that cannot run it. Not for /dev/kvm (use {@link bootOnMachine}).
 */
export function bootWithService(b: PassthroughBoot): Promise<RunResult> {
  const t0 = performance.now();
  const { service, plan } = b;
  const { vm, vcpus, routes } = setupPassthroughVm(service, plan, b.machine.smp);
  const memory = GuestMemory.allocate(b.machine.memoryMiB * 1024 * 1024);
  // With routes every SINT goes through KVM (irqfd); without synic nothing raises SINTs at all.
  const synic = new PassthroughSynic(routes, routes ? undefined : (vp, vector) => service.signalMsi(vm, vp.apicId, vector));
  const partition = passthroughPartition({
    composition: plan.composition,
    memory,
    vpCount: vcpus.length,
    requestInterrupt: (vp, vector, autoEoi) => synic.requestInterrupt(vp, vector, autoEoi),
  });
  const events = plan.hypervEventfd ? new HypervEventConnections(service, vm, partition, synic) : undefined;
  b.onSynic?.({ synic, partition, events });
  const exits = new PassthroughVcpuExits(service, vcpus[0], createPassthroughHyperv(plan.composition, partition), partition.vp(0)!, synic);
  let outcome: RunOutcome | undefined;
  const debugExit = new IsaDebugExit({ onExit: (code) => (outcome = { kind: "exit", guestCode: code, code: code & 0xff }) });
  const counts: Record<string, number> = { hyperv: 0, io: 0 };
  while (!outcome) {
    const r = service.run(vcpus[0]);
    if (routes) synic.serviceAcks(partition);
    events?.drain();
    const a = exits.onExit(r);
    if (a.kind === "continue") {
      counts.hyperv++;
      continue;
    }
    if (a.kind === "crash") outcome = { kind: "crash", code: EXIT_GUEST_FAULT, report: a.report };
    else if (a.kind === "reset") outcome = { kind: "reset", code: 0, vcpu: 0, source: a.source };
    else if (r === KVM_EXIT_IO) {
      counts.io++;
      const x = service.ioExit(vcpus[0]);
      if (x.out && x.port >= DEBUG_EXIT_BASE && x.port < DEBUG_EXIT_BASE + debugExit.size) debugExit.write(x.port, x.size, x.value);
    } else if (r === KVM_EXIT_SHUTDOWN) {
      outcome = { kind: "fault", code: EXIT_GUEST_FAULT, fault: { vcpu: 0, what: "the guest triple-faulted (KVM_EXIT_SHUTDOWN)", exitReason: exitReasonName(r), registers: {} } };
    } else {
      outcome = { kind: "error", code: EXIT_VMM_ERROR, message: `vCPU 0: unexpected exit ${exitReasonName(r)}` };
    }
  }
  return Promise.resolve({ outcome, exits: [{ ...counts, ...exits.counts }], seconds: (performance.now() - t0) / 1000 });
}


/** The machine's Hyper-V spec for the workers: every composed enlightenment, the request's parameters for them, the version. */
function hypervSpec(request: ComposeRequest, c: Composition) {
  const names = c.enlightenments.map((e) => e.name);
  const set = Object.fromEntries(Object.entries(request.set ?? {}).filter(([k]) => names.includes(k.split(".")[0])));
  return { requested: c.enlightenments.map((e) => ({ name: e.name, reason: e.reason })), set, version: c.version };
}

/**
 * Runs the guest with KVM's in-kernel Hyper-V; resolves to the process exit code:
 * - composition error: `hv: <message>` on stderr, {@link EXIT_USAGE} (2);
 * - preflight refusal ({@link PassthroughUnavailable}): one stderr line `hv: <message>` listing the
 *   missing capabilities / CPUID bits and ending "use --backend emulator", exit code 2, and no VM,
 *   vCPU or file created (the kernel is not even read);
 * - unreadable kernel, initrd or serial file: 2, as the emulator;
 * - otherwise the boot's outcome, reported as the emulator reports it (probe table when no
 *   `--kernel`; `hv-crash-<time>.json` on a crash; isa-debug-exit code; 124 timeout; 125 guest
 *   fault; 70 VMM error, e.g. a machine without the passthrough hooks or a failed KVM ioctl).
 * `options` and `io` are `@hv/emulator`'s `RunOptions`/`RunIo`; `deps` see {@link PassthroughDeps}.
 */
export async function runPassthrough(o: RunOptions, io: RunIo, deps: PassthroughDeps = {}): Promise<number> {
  const composed = await Effect.runPromise(Effect.result(compose(o.request)));
  if (composed._tag === "Failure") {
    io.err(`hv: ${composed.failure.message}`);
    return EXIT_USAGE;
  }
  const composition = composed.success;
  const service = deps.service ?? new RealKvmService();
  try {
    // 1. Preflight: nothing exists yet, and nothing is created on refusal.
    const checked = await Effect.runPromise(Effect.result(preflight(composition, service)));
    if (checked._tag === "Failure") {
      io.err(`hv: ${checked.failure.message}`);
      return EXIT_USAGE;
    }
    const plan = checked.success;

    // 2. The kernel (or the probe guest), initrd, serial: as the emulator.
    const guest = await prepareGuest(o, io);
    if (typeof guest === "number") return guest;
    const { kernel, kernelName, append, initrd, onSerial } = guest;

    // 3. Boot.
    const machine: MachineConfig = {
      kernel,
      kernelName,
      append,
      initrd,
      memoryMiB: o.memoryMiB,
      smp: o.smp,
      timeoutSeconds: o.timeoutSeconds,
      hyperv: { composition, spec: hypervSpec(o.request, composition) },
      onSerial,
    };
    const hooks = passthroughMachineBackend(plan, service instanceof RealKvmService ? service : undefined, { vcpuCount: o.smp });
    const boot = deps.boot ?? (service instanceof RealKvmService ? bootOnMachine : bootWithService);
    let result: RunResult;
    try {
      result = await boot({ plan, service, machine, hooks });
    } catch (e) {
      io.err(`hv: the passthrough backend failed: ${e instanceof Error ? e.message : String(e)}`);
      return EXIT_VMM_ERROR;
    } finally {
      guest.close();
    }

    // 4. The outcome, as the emulator reports it.
    return await finishRun(o, io, guest, result.outcome);
  } finally {
    if (!deps.service) service.close();
  }
}

/**
 * `--backend auto`: passthrough when the preflight accepts `request` on this host, else the
 * emulator with the reason (the preflight's one-line message, or the composition error). Creates
 * nothing; closes the service only when it opened it.
 */
export async function chooseBackend(
  request: ComposeRequest,
  given?: KvmService,
): Promise<{ readonly backend: "passthrough" } | { readonly backend: "emulator"; readonly reason: string }> {
  const service = given ?? new RealKvmService();
  try {
    const composed = await Effect.runPromise(Effect.result(compose(request)));
    if (composed._tag === "Failure") return { backend: "emulator", reason: composed.failure.message };
    const r = await Effect.runPromise(Effect.result(preflight(composed.success, service)));
    return r._tag === "Success" ? { backend: "passthrough" } : { backend: "emulator", reason: (r.failure as PassthroughUnavailable).message };
  } finally {
    if (!given) service.close();
  }
}
