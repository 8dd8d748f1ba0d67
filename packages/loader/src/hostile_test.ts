// Hostile and malformed images crafted here byte by byte: each must give a LoadError with the right
// problem and message, and leave guest RAM exactly as it was (the loader validates everything first).
import assert from "node:assert/strict";
import { GuestMemory } from "@hv/x86";
import { type BootPlan, LoadError, type LoadOptions, type LoadProblem, tryLoadKernel } from "../mod.ts";

const MiB = 1 << 20;
const PATTERN = 0xa5a5a5a5;

interface Seg {
  paddr: number | bigint;
  vaddr?: number | bigint;
  data?: Uint8Array;
  memsz?: number | bigint;
  /** Overrides the computed file offset / size. */
  offset?: number | bigint;
  filesz?: number | bigint;
  type?: number;
}

interface ElfSpec {
  cls: 32 | 64;
  entry: number | bigint;
  segs: Seg[];
  machine?: number;
  type?: number;
  data?: number;
  phoff?: number | bigint;
  phnum?: number;
  phentsize?: number;
}

/** A minimal little-endian ELF: header, program headers, then each segment's data. */
const elf = (s: ElfSpec): Uint8Array => {
  const is64 = s.cls === 64;
  const ehsize = is64 ? 64 : 52;
  const phent = is64 ? 56 : 32;
  const dataStart = ehsize + phent * s.segs.length;
  const total = s.segs.reduce((n, g) => n + (g.data?.length ?? 0), dataStart);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, s.data ?? 1, 1]);
  v.setUint16(16, s.type ?? 2, true);
  v.setUint16(18, s.machine ?? (is64 ? 62 : 3), true);
  v.setUint32(20, 1, true);
  const big = (o: number, x: number | bigint) => v.setBigUint64(o, BigInt(x), true);
  const u32 = (o: number, x: number | bigint) => v.setUint32(o, Number(x), true);
  if (is64) {
    big(24, s.entry);
    big(32, s.phoff ?? ehsize);
    v.setUint16(52, ehsize, true);
    v.setUint16(54, s.phentsize ?? phent, true);
    v.setUint16(56, s.phnum ?? s.segs.length, true);
  } else {
    u32(24, s.entry);
    u32(28, s.phoff ?? ehsize);
    v.setUint16(40, ehsize, true);
    v.setUint16(42, s.phentsize ?? phent, true);
    v.setUint16(44, s.phnum ?? s.segs.length, true);
  }
  let at = dataStart;
  s.segs.forEach((g, i) => {
    const p = ehsize + i * phent;
    const data = g.data ?? new Uint8Array(0);
    out.set(data, at);
    const f = {
      offset: g.offset ?? at,
      vaddr: g.vaddr ?? g.paddr,
      paddr: g.paddr,
      filesz: g.filesz ?? data.length,
      memsz: g.memsz ?? data.length,
    };
    v.setUint32(p, g.type ?? 1, true);
    if (is64) {
      big(p + 8, f.offset);
      big(p + 16, f.vaddr);
      big(p + 24, f.paddr);
      big(p + 32, f.filesz);
      big(p + 40, f.memsz);
    } else {
      u32(p + 4, f.offset);
      u32(p + 8, f.vaddr);
      u32(p + 12, f.paddr);
      u32(p + 16, f.filesz);
      u32(p + 20, f.memsz);
    }
    at += data.length;
  });
  return out;
};

/** A Multiboot header (magic, flags, checksum [+ a.out fields]) followed by `code`. */
const mbHeader = (flags: number, aout?: number[], checksumDelta = 0): Uint8Array => {
  const words = [0x1badb002, flags, (-(0x1badb002 + flags) + checksumDelta) >>> 0, ...(aout ?? [])];
  const out = new Uint8Array(words.length * 4 + 16).fill(0x90);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return out;
};

const code = new Uint8Array(64).fill(0xf4);

const ram = (size = 64 * MiB) => {
  const m = GuestMemory.allocate(size);
  new Uint32Array(m.bytes.buffer).fill(PATTERN);
  return m;
};

const assertUntouched = (m: GuestMemory) => {
  const w = new Uint32Array(m.bytes.buffer);
  for (let i = 0; i < w.length; i++) {
    if (w[i] !== PATTERN) assert.fail(`guest RAM was written at ${(i * 4).toString(16)}`);
  }
};

/** Loads and expects a LoadError with `problem` and a message matching `message`; RAM must be untouched. */
const shared = new Map<number, GuestMemory>();
const refuse = (
  image: Uint8Array,
  problem: LoadProblem,
  message: RegExp,
  options: LoadOptions = {},
  size = 64 * MiB,
) => {
  // RAM is reused between refusals: each one checks that it is still exactly the pattern.
  const m = shared.get(size) ?? ram(size);
  shared.set(size, m);
  const r = tryLoadKernel(m, image, options);
  if (!(r instanceof LoadError)) assert.fail(`expected LoadError(${problem}), got a ${r.kind} plan`);
  assert.equal(r._tag, "LoadError");
  assert.match(r.message, message);
  assert.equal(r.problem, problem, r.message);
  assertUntouched(m);
  return r;
};

const accept = (image: Uint8Array, options: LoadOptions = {}, size = 64 * MiB): BootPlan => {
  const r = tryLoadKernel(ram(size), image, options);
  if (r instanceof LoadError) assert.fail(`unexpected LoadError: ${r.message}`);
  return r;
};

Deno.test("the crafted images load when well-formed (so the refusals below are about the one broken field)", () => {
  assert.equal(
    accept(elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code, memsz: 0x2000 }] })).kind,
    "elf64",
  );
  const mb = new Uint8Array([...mbHeader(3), ...code]);
  assert.equal(
    accept(elf({ cls: 32, entry: 0x100000, segs: [{ paddr: 0x100000, data: mb, memsz: 0x1000 }] })).kind,
    "multiboot",
  );
  assert.equal(accept(elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: mb }] })).kind, "multiboot");
});

Deno.test("not a kernel: empty, text, random bytes", () => {
  refuse(new Uint8Array(0), "not-a-kernel", /^not an ELF or multiboot image \(the file is empty\)$/);
  refuse(
    new TextEncoder().encode("#!/bin/sh\necho hi\n"),
    "not-a-kernel",
    /not an ELF or multiboot image \(the file starts with 23 21 2f 62\)/,
  );
  const rnd = new Uint8Array(10000).map((_, i) => (i * 2654435761) >>> 24);
  refuse(rnd, "not-a-kernel", /not an ELF or multiboot image/);
});

Deno.test("truncated ELF headers", () => {
  const good = elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code }] });
  refuse(good.subarray(0, 10), "truncated", /ELF identification is truncated \(10 bytes, need 16\)/);
  refuse(good.subarray(0, 40), "truncated", /ELF header is truncated \(40 bytes, an ELF64 header needs 64\)/);
  const good32 = elf({
    cls: 32,
    entry: 0x100000,
    segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(0), ...code]) }],
  });
  refuse(good32.subarray(0, 50), "truncated", /ELF header is truncated \(50 bytes, an ELF32 header needs 52\)/);
});

Deno.test("bad multiboot checksum, truncated multiboot header, unsupported requirement bits", () => {
  const bad = elf({
    cls: 32,
    entry: 0x100000,
    segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(3, [], 1), ...code]) }],
  });
  refuse(bad, "bad-header", /multiboot header checksum mismatch at file offset 0x54: .* = 0x1 mod 2\^32, must be 0/);
  refuse(
    Uint8Array.of(0x02, 0xb0, 0xad, 0x1b, 3, 0, 0),
    "truncated",
    /multiboot header at file offset 0x0 is truncated/,
  );
  const flat = mbHeader(0x20);
  refuse(
    flat,
    "unsupported",
    /multiboot header requires features hv does not provide \(flags 0x20, unknown requirement bits 0x20\)/,
  );
  // Bit 2 (video mode) is accepted and ignored, as QEMU does.
  const video = elf({
    cls: 32,
    entry: 0x100000,
    segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(4), ...code]) }],
  });
  assert.equal(accept(video).kind, "multiboot");
  // A header past the first 8192 bytes is not a header.
  const far = new Uint8Array(8192 + 64);
  far.set(mbHeader(0x10000, [0x100000, 0x100000, 0, 0, 0x100000]), 8192);
  refuse(far, "not-a-kernel", /not an ELF or multiboot image/);
});

Deno.test("program header table past the end, huge phnum, bad phentsize, PN_XNUM", () => {
  const segs = [{ paddr: 0x100000, data: code }];
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, phoff: 0x100000 }),
    "truncated",
    /ELF program header table at file offset 0x100000 \(1 entries of 56 bytes\) runs past the end of the file/,
  );
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, phoff: 0xffffffffffffff00n }),
    "truncated",
    /program header table at file offset 0xffffffffffffff00/,
  );
  refuse(elf({ cls: 32, entry: 0x100000, segs, phoff: 0xfffffff0 }), "truncated", /program header table/);
  const t0 = performance.now();
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, phnum: 0xfffe }),
    "truncated",
    /\(65534 entries of 56 bytes\) runs past the end of the file \(184 bytes\)/,
  );
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, phnum: 0xfffe, phentsize: 0xffff }),
    "truncated",
    /65534 entries of 65535 bytes/,
  );
  assert.ok(performance.now() - t0 < 1000, "no loop over a table that is not in the file");
  refuse(elf({ cls: 64, entry: 0x100000, segs, phnum: 0xffff }), "unsupported", /PN_XNUM/);
  refuse(elf({ cls: 64, entry: 0x100000, segs, phnum: 0 }), "bad-header", /no program headers/);
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, phentsize: 8 }),
    "bad-header",
    /e_phentsize 8 is smaller than a program header \(56 bytes\)/,
  );
});

Deno.test("segment data past the end of the file, p_filesz > p_memsz, no loadable segment", () => {
  refuse(
    elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code, filesz: 1 << 20, memsz: 2 << 20 }] }),
    "truncated",
    /ELF segment 0: file data at offset 0x78 \(\+1048576 bytes\) runs past the end of the file \(184 bytes\)/,
  );
  refuse(
    elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code, offset: 2n ** 64n - 8n, filesz: 16 }] }),
    "truncated",
    /file data at offset 0xfffffffffffffff8/,
  );
  refuse(
    elf({
      cls: 32,
      entry: 0x100000,
      segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(0), ...code]), memsz: 8 }],
    }),
    "bad-header",
    /ELF segment 0: p_filesz \(92 bytes\) is larger than p_memsz \(8 bytes\)/,
  );
  refuse(
    elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code, type: 4 }] }),
    "bad-header",
    /no loadable segment/,
  );
  refuse(elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, memsz: 0 }] }), "bad-header", /no loadable segment/);
});

Deno.test("segments outside RAM, including 64-bit addresses that would wrap", () => {
  refuse(
    elf({ cls: 64, entry: 0x3f00000, segs: [{ paddr: 0x3f00000, data: code, memsz: 2 * MiB }] }),
    "outside-ram",
    /^segment at 0x3f00000 \(\+2097152 bytes, ELF program header 0\) is outside the 64 MiB of guest RAM$/,
  );
  refuse(
    elf({ cls: 64, entry: 0x1000, segs: [{ paddr: 2n ** 64n - 0x1000n, data: code, memsz: 0x2000 }] }),
    "outside-ram",
    /segment at 0xfffffffffffff000 \(\+8192 bytes, ELF program header 0\) is outside the 64 MiB/,
  );
  refuse(
    elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code }, { paddr: 64 * MiB, data: code }] }),
    "outside-ram",
    /segment at 0x4000000 \(\+64 bytes, ELF program header 1\)/,
  );
  const mb = new Uint8Array([...mbHeader(0), ...code]);
  refuse(
    elf({ cls: 32, entry: 0xffff0000, segs: [{ paddr: 0xffff0000, data: mb, memsz: 0x20000 }] }),
    "outside-ram",
    /outside the 64 MiB of guest RAM/,
  );
  refuse(
    elf({ cls: 32, entry: 0x100000, segs: [{ paddr: 0x100000, data: mb }] }),
    "outside-ram",
    /outside the 1 MiB of guest RAM/,
    {},
    1 * MiB,
  );
});

Deno.test("overlapping segments; entry point outside every segment", () => {
  refuse(
    elf({
      cls: 64,
      entry: 0x100000,
      segs: [{ paddr: 0x100000, data: code, memsz: 0x2000 }, { paddr: 0x101000, data: code }],
    }),
    "bad-header",
    /ELF segment at 0x100000 \(ELF program header 0\) \(\+8192 bytes\) overlaps segment at 0x101000 \(ELF program header 1\)/,
  );
  refuse(
    elf({ cls: 64, entry: 0x500000, segs: [{ paddr: 0x100000, data: code }] }),
    "bad-header",
    /ELF entry point 0x500000 is not inside any loadable segment/,
  );
  // An entry in a segment's p_vaddr range is translated to the physical address.
  const plan = accept(
    elf({ cls: 64, entry: 0xffffffff80100010n, segs: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: code }] }),
  );
  assert.equal(plan.entry, 0x100010);
});

Deno.test("the kernel overlapping the multiboot information at 0x9000 is refused", () => {
  const mb = new Uint8Array([...mbHeader(3), ...code]);
  refuse(
    elf({ cls: 32, entry: 0x8000, segs: [{ paddr: 0x8000, data: mb, memsz: 0x1001 }] }),
    "overlap",
    /segment at 0x8000 \(ELF program header 0\) \(\+4097 bytes\) overlaps the multiboot information at 0x9000\.\.0x9/,
  );
  refuse(
    elf({ cls: 32, entry: 0x9050, segs: [{ paddr: 0x9050, data: mb }] }),
    "overlap",
    /overlaps the multiboot information/,
  );
  // The MBI grows with the command line, and the check follows it.
  const after = elf({ cls: 32, entry: 0xa000, segs: [{ paddr: 0xa000, data: mb }] });
  accept(after, { cmdline: "short" });
  refuse(after, "overlap", /overlaps the multiboot information at 0x9000\.\.0x/, { cmdline: "x".repeat(5000) });
  // A kernel just below the MBI is fine.
  accept(elf({ cls: 32, entry: 0x8000, segs: [{ paddr: 0x8000, data: mb, memsz: 0x1000 }] }));
});

Deno.test("a.out kludge: inconsistent addresses, load range past the end of the file, entry outside", () => {
  // header at file offset 0 = header_addr; load_addr, load_end_addr, bss_end_addr, entry_addr
  const kludge = (headerAddr: number, loadAddr: number, loadEnd: number, bssEnd: number, entry: number, pad = 64) => {
    const h = mbHeader(0x10000, [headerAddr, loadAddr, loadEnd, bssEnd, entry]);
    return new Uint8Array([...h, ...new Uint8Array(pad).fill(0xf4)]);
  };
  const good = kludge(0x200000, 0x200000, 0, 0x210000, 0x200020);
  const plan = accept(good);
  assert.deepEqual(plan.segments, [{ gpa: 0x200000, fileBytes: good.length, memBytes: 0x10000 }]);
  refuse(kludge(0x200000, 0x200010, 0, 0, 0x200020), "bad-header", /load_addr 0x200010 is above header_addr 0x200000/);
  refuse(
    kludge(0x200010, 0x200000, 0, 0, 0x200020),
    "bad-header",
    /header_addr - load_addr \(0x10\) is larger than the header's file offset \(0x0\)/,
  );
  refuse(
    kludge(0x200000, 0x200000, 0x1fffff, 0, 0x200020),
    "bad-header",
    /load_end_addr 0x1fffff is below load_addr 0x200000/,
  );
  refuse(
    kludge(0x200000, 0x200000, 0x300000, 0, 0x200020),
    "truncated",
    /load_addr\.\.load_end_addr needs 1048576 bytes from file offset 0x0, past the end of the file \(112 bytes\)/,
  );
  refuse(
    kludge(0x200000, 0x200000, 0x200040, 0x200020, 0x200020),
    "bad-header",
    /bss_end_addr 0x200020 is below load_end_addr 0x200040/,
  );
  refuse(
    kludge(0x200000, 0x200000, 0x200040, 0, 0x200040),
    "bad-header",
    /entry_addr 0x200040 is outside the loaded image 0x200000\.\.0x200040/,
  );
  refuse(
    kludge(0x3ff0000, 0x3ff0000, 0, 0x4010000, 0x3ff0020),
    "outside-ram",
    /segment at 0x3ff0000 \(\+131072 bytes, a\.out kludge load_addr\.\.bss_end_addr\) is outside the 64 MiB of guest RAM/,
  );
  refuse(kludge(0x8000, 0x8000, 0, 0x9800, 0x8020), "overlap", /overlaps the multiboot information/);
  refuse(
    mbHeader(0x10000).subarray(0, 20),
    "truncated",
    /sets the a\.out kludge \(flags bit 16\) but its address fields run past the end of the file \(20 bytes\)/,
  );
  refuse(
    new Uint8Array([...mbHeader(0), ...code]),
    "not-a-kernel",
    /without the a\.out kludge \(flags bit 16\) needs an ELF image/,
  );
});

Deno.test("other unsupported ELFs: big-endian, other machines, ELF32 without multiboot, relocatable", () => {
  const segs = [{ paddr: 0x100000, data: code }];
  refuse(elf({ cls: 64, entry: 0x100000, segs, data: 2 }), "unsupported", /not little-endian/);
  refuse(
    elf({ cls: 64, entry: 0x100000, segs, machine: 183 }),
    "unsupported",
    /ELF machine 183 is not x86 \(ELF64 needs EM_X86_64 \(62\)\)/,
  );
  refuse(elf({ cls: 64, entry: 0x100000, segs, type: 1 }), "unsupported", /ELF type 1 is not an executable/);
  refuse(elf({ cls: 32, entry: 0x100000, segs }), "unsupported", /32-bit ELF without a multiboot header/);
  const bad = elf({ cls: 64, entry: 0x100000, segs });
  bad[4] = 3;
  refuse(bad, "unsupported", /ELF class 3/);
});

Deno.test("options that do not fit: modules beyond RAM, command line too long, RAM below 1 MiB, modules for plain ELF64", () => {
  const mb = elf({
    cls: 32,
    entry: 0x100000,
    segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(1), ...code]), memsz: 0x1000 }],
  });
  const plan = accept(mb, { modules: [{ data: new Uint8Array(100) }] }, 2 * MiB);
  assert.equal(plan.kind === "multiboot" && plan.modules[0].start, 0x101000);
  refuse(
    mb,
    "outside-ram",
    /^module 1 at 0x102000 \(\+1048576 bytes, placed page-aligned above the kernel\) is outside the 2 MiB of guest RAM$/,
    {
      modules: [{ data: new Uint8Array(100) }, { data: new Uint8Array(MiB) }],
    },
    2 * MiB,
  );
  refuse(
    mb,
    "config",
    /the multiboot information \(\d+ bytes with the command line and module strings\) does not fit between 0x9000 and 0x9fc00/,
    {
      cmdline: "a".repeat(700_000),
    },
  );
  const low = elf({
    cls: 32,
    entry: 0x20000,
    segs: [{ paddr: 0x20000, data: new Uint8Array([...mbHeader(1), ...code]) }],
  });
  refuse(low, "config", /a multiboot kernel needs at least 1 MiB of guest RAM \(have 512 KiB\)/, {}, 512 * 1024);
  const plain = elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: code }] });
  refuse(plain, "config", /modules \(--initrd\) need a multiboot kernel/, { modules: [{ data: code }] });
  refuse(plain, "config", /a command line \(--append\) needs a multiboot kernel/, { cmdline: "quiet" });
  accept(plain, { cmdline: "" });
});

Deno.test("fuzz: mutated headers never throw, and every refusal leaves RAM untouched", () => {
  const seeds = [
    elf({
      cls: 64,
      entry: 0x100000,
      segs: [{ paddr: 0x100000, data: code, memsz: 0x3000 }, { paddr: 0x104000, data: code }],
    }),
    elf({
      cls: 32,
      entry: 0x100000,
      segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(3), ...code]), memsz: 0x2000 }],
    }),
    elf({ cls: 64, entry: 0x100000, segs: [{ paddr: 0x100000, data: new Uint8Array([...mbHeader(2), ...code]) }] }),
    new Uint8Array([...mbHeader(0x10003, [0x100000, 0x100000, 0, 0x102000, 0x100020]), ...code]),
  ];
  let state = 0x12345678;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const m = ram(2 * MiB);
  let accepted = 0;
  let refused = 0;
  for (let iter = 0; iter < 3000; iter++) {
    const img = seeds[iter % seeds.length].slice();
    const flips = 1 + (rand() % 4);
    for (let f = 0; f < flips; f++) {
      const at = rand() % Math.min(img.length, 128);
      img[at] = rand() % 4 === 0 ? 0xff : rand() & 0xff;
    }
    const r = tryLoadKernel(m, rand() % 5 === 0 ? img.subarray(0, rand() % img.length) : img, {
      modules: iter % 7 === 0 ? [{ data: code }] : undefined,
    });
    if (r instanceof LoadError) {
      refused++;
      assertUntouched(m);
    } else {
      accepted++;
      new Uint32Array(m.bytes.buffer).fill(PATTERN);
    }
  }
  assert.ok(accepted > 100 && refused > 100, `a useful mix: ${accepted} accepted, ${refused} refused`);
});

Deno.test("modules of a kernel below 1 MiB go above 1 MiB, clear of the MBI and the low-memory hole", () => {
  const low = elf({
    cls: 32,
    entry: 0x20000,
    segs: [{ paddr: 0x20000, data: new Uint8Array([...mbHeader(1), ...code]) }],
  });
  const plan = accept(low, { modules: [{ data: code, string: "m" }] }, 2 * MiB);
  assert.equal(plan.kind === "multiboot" && plan.modules[0].start, 0x100000);
  // A magic in the last 12 bytes of the 8 KiB window cannot be a whole header there.
  const edge = new Uint8Array(8192 + 64);
  edge.set(mbHeader(0x10000, [0x100000, 0x100000, 0, 0, 0x100000]).subarray(0, 12), 8188);
  refuse(edge, "not-a-kernel", /not an ELF or multiboot image/);
});
