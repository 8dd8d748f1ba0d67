import { runMachine } from "@hv/machine";
const kernel = await Deno.readFile(Deno.args[0]);
const r = await runMachine({ kernel, kernelName: "hello.elf", append: Deno.args[1] ?? "", memoryMiB: 64, smp: Number(Deno.args[2] ?? 1), timeoutSeconds: 10, onSerial: (l) => console.log("serial:", l) });
console.log(JSON.stringify(r, (_k, v) => typeof v === "bigint" ? v.toString() : v, 1));
