import assert from "node:assert/strict";
import { feedProbeLine, newProbeReport, probePassed, renderProbeTable } from "./probe_report.ts";

Deno.test("a complete passing report renders a table with costs and passes", () => {
  const r = newProbeReport();
  for (
    const l of [
      "booting...",
      '@@hvprobe-start {"version":1,"cmdline":"profile=win2012"}',
      '@@hvprobe {"check":"base.hv1","enl":"base","ok":true,"saw":"Hv#1","expect":"Hv#1","cycles":-1,"ref":-1}',
      '@@hvprobe {"check":"base.hypercall.null","enl":"base","ok":true,"saw":"status 2","cycles":41000,"ref":39000}\r',
      '@@hvprobe-skip {"check":"xmm-input.absent","enl":"xmm-input","reason":"needs tlbflush"}',
      '@@hvprobe-done {"passed":2,"failed":0,"skipped":1}',
    ]
  ) feedProbeLine(r, l);
  assert.equal(probePassed(r), true);
  const t = renderProbeTable(r);
  assert.match(t, /^ENLIGHTENMENT\s+CHECK\s+RESULT\s+GUEST SAW\s+COST$/m);
  assert.match(t, /base\s+base.hypercall.null\s+pass\s+status 2\s+41000 vs 39000 cycles/);
  assert.match(t, /xmm-input\s+xmm-input.absent\s+skip\s+needs tlbflush/);
  assert.match(t, /^2 passed, 0 failed, 1 skipped$/m);
});

Deno.test("a failed check, a malformed (hostile) line or a missing done line fail the run", () => {
  const r = newProbeReport();
  feedProbeLine(r, "@@hvprobe-start {}");
  feedProbeLine(r, '@@hvprobe {"check":"x","enl":"time","ok":false,"saw":"went backwards"}');
  assert.equal(probePassed(r), false);
  assert.match(renderProbeTable(r), /time\s+x\s+FAIL\s+went backwards/);
  assert.match(renderProbeTable(r), /did not finish/);
  const h = newProbeReport();
  feedProbeLine(h, "@@hvprobe-start {}");
  feedProbeLine(h, '@@hvprobe {"check":1e400,"ok":"yes"');
  feedProbeLine(h, '@@hvprobe-done {"passed":0,"failed":0}');
  assert.equal(probePassed(h), false);
  assert.match(renderProbeTable(h), /malformed check line/);
  assert.equal(probePassed(newProbeReport()), false);
});
