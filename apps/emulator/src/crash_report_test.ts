import assert from "node:assert/strict";
import { Schema } from "effect";
import { crashDocument, CrashReportDocument, encodeCrashDocument } from "./crash_report.ts";

Deno.test("a crash report becomes a stable JSON document with u64s as hex strings", () => {
  const d = crashDocument(
    { vp: 1, parameters: [0x1en, 0xffffffffffffffffn, 0n, 0x400000n, 12n], control: 0xc000000000000000n, message: "Kernel panic" },
    "linux",
    new Date("2026-11-21T17:00:00Z"),
  );
  const json = encodeCrashDocument(d);
  const back = Schema.decodeUnknownSync(CrashReportDocument)(JSON.parse(json));
  assert.deepEqual(back.parameters, ["0x000000000000001e", "0xffffffffffffffff", "0x0000000000000000", "0x0000000000400000", "0x000000000000000c"]);
  assert.equal(back.control, "0xc000000000000000");
  assert.equal(back.message, "Kernel panic");
  assert.equal(back.time, "2026-11-21T17:00:00.000Z");
  assert.match(back.meaning, /CrashMessage/);
  const plain = crashDocument({ vp: 0, parameters: [1n, 2n, 3n, 4n, 5n], control: 1n << 63n }, undefined);
  assert.equal(plain.message, undefined);
  assert.match(plain.meaning, /bugcheck/);
});
