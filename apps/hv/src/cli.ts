/**
 * The `hv` command tree (effect/cli): `compose`, `list`, `explain`, and the runner that turns every
 * kind of bad input (our {@link UsageError}s and effect/cli's own parse errors) into exactly one
 * `hv: ...` line on stderr and exit code 2.
 * @module
 */
import * as NodeServices from "@effect/platform-node/NodeServices";
import { Console, Effect, Option } from "effect";
import { Argument, CliError, CliOutput, Command, Flag } from "effect/cli";
import { FORMATS } from "@hv/formats";
import { composeText } from "./compose_request.ts";
import { explainText, listText } from "./info.ts";
import { EXIT_USAGE, UsageError } from "./usage.ts";
import { DEFAULT_MAX_RESETS, ExitCode, MAX_RESETS_LIMIT, runCommand } from "./run_command.ts";
import { doctorText } from "./doctor.ts";

/** The CLI version (`hv --version`). */
export const VERSION = "0.1.0";

/** Writes `text` (newline-terminated) to stdout. */
const print = (text: string) => Console.log(text.replace(/\n$/, ""));

const repeatable = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.atLeast(0), Flag.withDescription(description));

const compose = Command.make(
  "compose",
  {
    profile: Flag.String("profile").pipe(
      Flag.withDescription(
        "Guest OS profile to start from (win2008, win7, win8, win81, win10, win11, linux, max, or an alias such as win2012; see 'hv list')",
      ),
      Flag.optional,
    ),
    with: repeatable(
      "with",
      "Enlightenments to add, comma-separated; may repeat (--with frequencies,tlbflush --with ipi)",
    ),
    without: repeatable("without", "Enlightenments to remove, comma-separated; may repeat"),
    set: repeatable(
      "set",
      "Parameter as name=value (primary parameter) or name.param=value; may repeat (--set spinlocks=0xfff)",
    ),
    format: Flag.String("format").pipe(
      Flag.withDescription(`Output format: ${FORMATS.join(", ")}`),
      Flag.withDefault("table"),
    ),
    explain: Flag.Boolean("explain").pipe(
      Flag.withDescription(
        "Also print why each enlightenment is in the set (profile reason, dependency, base): under a table, as comments otherwise (JSON: the reason fields)",
      ),
      Flag.withDefault(false),
    ),
    autoDeps: Flag.Boolean("auto-deps").pipe(
      Flag.withDescription("Add missing dependencies instead of failing"),
      Flag.withDefault(false),
    ),
    host: repeatable("host", "An 'hv doctor --json' report: keep only what that host can serve on --backend; may repeat (the intersection, for a fleet)"),
    backend: Flag.String("backend").pipe(Flag.withDescription("With --host: passthrough (default) or emulator"), Flag.withDefault("passthrough")),
  },
  (f) =>
    composeText({
      host: f.host,
      backend: f.backend,
      profile: Option.getOrUndefined(f.profile),
      with: f.with,
      without: f.without,
      set: f.set,
      format: f.format,
      explain: f.explain,
      autoDeps: f.autoDeps,
    }).pipe(Effect.flatMap(print)),
).pipe(
  Command.withDescription(
    "Compose a set of Hyper-V enlightenments (a profile and/or --with, plus the base) and print it. Without --profile the set is exactly --with plus the base (vpindex).",
  ),
  Command.withExamples([
    { command: "hv compose --profile win2012 --format qemu", description: "QEMU -cpu flags for Windows Server 2012" },
    {
      command: "hv compose --profile win10 --with frequencies --format libvirt",
      description: "libvirt XML, one extra enlightenment",
    },
    {
      command: "hv compose --with stimer --auto-deps --explain",
      description: "stimer plus what it needs (synic, time), with reasons",
    },
  ]),
);

const list = Command.make("list", {}, () => print(listText())).pipe(
  Command.withDescription("List every enlightenment and every guest profile, one line each"),
);

const explain = Command.make(
  "explain",
  { name: Argument.String("name").pipe(Argument.withDescription("An enlightenment (stimer) or a profile (win2012)")) },
  ({ name }) => explainText(name).pipe(Effect.flatMap(print)),
).pipe(
  Command.withDescription(
    "Explain an enlightenment (MSRs, hypercalls, CPUID bits, dependencies, sources, VMM spellings) or a profile (its members and why)",
  ),
);

const run_ = Command.make(
  "run",
  {
    profile: Flag.String("profile").pipe(Flag.withDescription("Guest OS profile to compose from (see 'hv list')"), Flag.optional),
    with: repeatable("with", "Enlightenments to add, comma-separated; may repeat"),
    without: repeatable("without", "Enlightenments to remove, comma-separated; may repeat"),
    set: repeatable("set", "Parameter as name=value or name.param=value; may repeat"),
    autoDeps: Flag.Boolean("auto-deps").pipe(Flag.withDescription("Add missing dependencies instead of failing"), Flag.withDefault(false)),
    kernel: Flag.String("kernel").pipe(
      Flag.withDescription("Multiboot v1 (ELF32/ELF64/a.out kludge) or ELF64 kernel to boot; default: the built-in probe guest"),
      Flag.optional,
    ),
    initrd: repeatable("initrd", "Multiboot module to load; may repeat"),
    append: Flag.String("append").pipe(Flag.withDescription("Kernel command line"), Flag.withDefault("")),
    smp: Flag.Int("smp").pipe(Flag.withDescription("vCPUs, 1..8 (default 1)"), Flag.optional),
    memory: Flag.Int("memory").pipe(Flag.withDescription("Guest RAM in MiB, 2..3072 (default 256)"), Flag.optional),
    timeout: Flag.Int("timeout").pipe(Flag.withDescription("Stop the guest after this many seconds (exit code 124)"), Flag.withDefault(60)),
    serial: Flag.String("serial").pipe(Flag.withDescription("COM1 output: stdio or a file path"), Flag.withDefault("stdio")),
    maxResets: Flag.Int("max-resets").pipe(
      Flag.withDescription(
        `Guest resets (HV_X64_MSR_RESET, KVM system-event reset) served by power-cycling the VM, 0..${MAX_RESETS_LIMIT}: each one builds the VM again from the kernel, CMOS NVRAM kept; the next reset ends the run (exit code 0)`,
      ),
      Flag.withDefault(DEFAULT_MAX_RESETS),
    ),
    onCrash: Flag.String("on-crash").pipe(
      Flag.withDescription(
        "After a guest crash report (hv-crash; printed and written to hv-crash-<time>.json): stop (tear the VM down) or pause (keep the VM, vCPUs stopped, until Ctrl-C/SIGTERM or --timeout); exit code 125 either way",
      ),
      Flag.withDefault("stop"),
    ),
    backend: Flag.String("backend").pipe(
      Flag.withDescription("emulator (hv serves Hyper-V in TypeScript), passthrough (KVM's in-kernel Hyper-V), or auto (passthrough where the host serves the whole set, else the emulator)"),
      Flag.withDefault("emulator"),
    ),
    kernelIrqchip: Flag.String("kernel-irqchip").pipe(
      Flag.withDescription(
        "off (default for the emulator): hv's userspace local APIC, needed for SynIC auto-EOI and vapic's exit-less EOI; on: KVM's in-kernel LAPIC/IO-APIC/PIC/PIT (as QEMU -machine kernel-irqchip=on), which refuses vapic and synic (and what needs synic); the passthrough backend always uses KVM's",
      ),
      Flag.optional,
    ),
    save: Flag.String("save").pipe(
      Flag.withDescription(
        "Save the VM to this new directory instead of discarding it when the run is interrupted (Ctrl-C, SIGTERM) or --save-after passes; exit code 0. Emulator with hv's APIC only",
      ),
      Flag.optional,
    ),
    saveAfter: Flag.Int("save-after").pipe(
      Flag.withDescription("With --save: save this many seconds into the run (counted as --timeout is)"),
      Flag.optional,
    ),
    restore: Flag.String("restore").pipe(
      Flag.withDescription(
        "Resume a VM saved with --save: guest, vCPUs, RAM and enlightenments come from the snapshot; on a host with another TSC frequency the guest gets hv-reenlightenment's notification",
      ),
      Flag.optional,
    ),
  },
  (f) =>
    runCommand({
      profile: Option.getOrUndefined(f.profile),
      with: f.with,
      without: f.without,
      set: f.set,
      format: "table",
      explain: false,
      autoDeps: f.autoDeps,
      kernel: Option.getOrUndefined(f.kernel),
      initrd: f.initrd,
      append: f.append,
      smp: Option.getOrUndefined(f.smp),
      memory: Option.getOrUndefined(f.memory),
      timeout: f.timeout,
      serial: f.serial,
      maxResets: f.maxResets,
      onCrash: f.onCrash,
      backend: f.backend,
      kernelIrqchip: Option.getOrUndefined(f.kernelIrqchip),
      save: Option.getOrUndefined(f.save),
      saveAfter: Option.getOrUndefined(f.saveAfter),
      restore: Option.getOrUndefined(f.restore),
    }),
).pipe(
  Command.withDescription(
    "Boot a guest on /dev/kvm with the composed enlightenments served by hv's emulator. Without --kernel, boots the built-in probe guest and prints a table of its checks; exits non-zero if any fails.",
  ),
  Command.withExamples([
    { command: "hv run --profile win2012", description: "the probe guest, behaving as Windows Server 2012 would" },
    { command: "hv run --kernel test.elf --smp 2", description: "a multiboot test kernel, to its isa-debug-exit code" },
    { command: "hv run --profile win2012 --append crash=1 --on-crash pause", description: "keep the VM after the probe's crash report, until Ctrl-C" },
  ]),
);

const doctor = Command.make(
  "doctor",
  { json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report as a stable JSON document (for hv compose --host)"), Flag.withDefault(false)) },
  ({ json }) => doctorText(json).pipe(Effect.flatMap(print)),
).pipe(
  Command.withDescription(
    "Report this host: KVM capabilities that matter, KVM_GET_SUPPORTED_HV_CPUID, invariant TSC, and per enlightenment whether the emulator and the passthrough backend can serve it here (and why not)",
  ),
);

/** The root command. */
export const hv = Command.make("hv").pipe(
  Command.withDescription("Composable Hyper-V enlightenments: compose, inspect and explain them"),
  Command.withSubcommands([compose, list, explain, run_, doctor]),
);

const COMMANDS = ["compose", "list", "explain", "run", "doctor"];
const GLOBAL_FLAGS = ["--help", "--version"];
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  compose: ["--profile", "--with", "--without", "--set", "--format", "--explain", "--auto-deps", "--host", "--backend"],
  list: [],
  explain: [],
  doctor: ["--json"],
  run: ["--profile", "--with", "--without", "--set", "--auto-deps", "--kernel", "--initrd", "--append", "--smp", "--memory", "--timeout", "--serial", "--backend", "--max-resets", "--on-crash", "--kernel-irqchip", "--save", "--save-after", "--restore"],
};

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();

/**
 * A message as one line, with an Effect `Cause` rendering unwrapped (`@hv/compose` embeds
 * `Cause([Fail(SchemaError(Expected ...))])` in invalid-parameter messages).
 */
export const cleanMessage = (s: string): string =>
  oneLine(s.replace(/Cause\(\[Fail\((?:SchemaError\()?([\s\S]*?)\)?\)\]\)/g, "$1"));

/** One line for an effect/cli parse error, naming the problem and the valid choices. */
export const describeCliError = (e: CliError.CliError, commandPath: readonly string[]): string => {
  const cmd = commandPath.join(" ");
  switch (e._tag) {
    case "UnrecognizedOption": {
      const sub = commandPath[1];
      const valid = [...(sub ? COMMAND_FLAGS[sub] ?? [] : []), ...GLOBAL_FLAGS];
      const hint = e.suggestions.length ? ` (did you mean ${e.suggestions.join(" or ")}?)` : "";
      return `unknown flag '${e.option}' for '${cmd}'${hint}; valid: ${valid.join(", ")}`;
    }
    case "UnknownSubcommand": {
      const hint = e.suggestions.length ? ` (did you mean ${e.suggestions.join(" or ")}?)` : "";
      return `unknown command '${e.subcommand}'${hint}; valid: ${COMMANDS.join(", ")}`;
    }
    case "MissingArgument":
      return `'${cmd}' needs <${e.argument}>: an enlightenment or a profile (see 'hv list')`;
    default:
      return `${oneLine(e.message)} (see '${cmd} --help')`;
  }
};

/**
 * Help, version and invalid invocations: help and version as usual on stdout; an invalid
 * invocation as one line on stderr (no help dump); a bare `hv` as one line naming the commands.
 */
const presenter: CliOutput.Presenter = {
  present: (event) => {
    if (event._tag === "InvalidInvocation") {
      const [first] = event.errors;
      return Console.error(`hv: ${first ? describeCliError(first, event.commandPath) : "invalid invocation"}`);
    }
    if (event._tag === "Help" && event.reason === "Implicit") {
      return Console.error(`hv: missing command; valid: ${COMMANDS.join(", ")} (see 'hv --help')`);
    }
    return CliOutput.defaultPresenter.present(event);
  },
};

/**
 * Runs `hv` on `args`; resolves to the exit code: 0, {@link EXIT_USAGE} (2) for bad input, 1 for
 * an unexpected failure (printed as one line).
 */
export const run = (args: readonly string[]): Effect.Effect<number> =>
  Command.runWith(hv, { version: VERSION })(args).pipe(
    Effect.as(0),
    Effect.catch((e: unknown) => {
      if (e instanceof ExitCode) return Effect.succeed(e.code);
      if (e instanceof UsageError) return Console.error(`hv: ${cleanMessage(e.message)}`).pipe(Effect.as(EXIT_USAGE));
      // effect/cli already reported it through the presenter.
      if (CliError.isCliError(e)) return Effect.succeed(EXIT_USAGE);
      return Console.error(`hv: ${e instanceof Error ? e.message : String(e)}`).pipe(Effect.as(1));
    }),
    Effect.provide(CliOutput.layerPresenter(presenter)),
    Effect.provide(NodeServices.layer),
  );
