/**
 * The built-in probe guest (tools/guests): located in the checkout, built with the machine's gcc on
 * first use (`make -C tools/guests`), never downloaded.
 * @module
 */

/** The guests' source folder. */
export const GUESTS_DIR = new URL("../../../tools/guests/", import.meta.url);
/** The probe image. */
export const PROBE_ELF = new URL("build/probe.elf", GUESTS_DIR);

/** Returns the probe image's bytes, building it first when missing; throws an Error with make's output on failure. */
export async function probeImage(): Promise<Uint8Array> {
  try {
    return await Deno.readFile(PROBE_ELF);
  } catch {
    const r = await new Deno.Command("make", { args: ["-s", "-C", GUESTS_DIR.pathname, "build/probe.elf"], stdout: "piped", stderr: "piped" })
      .output()
      .catch((e) => {
        throw new Error(`cannot build the probe guest: 'make' is not available (${e.message}); install gcc, make and binutils`);
      });
    if (!r.success) throw new Error(`building the probe guest failed:\n${new TextDecoder().decode(r.stderr)}`);
    return await Deno.readFile(PROBE_ELF);
  }
}
