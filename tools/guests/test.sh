#!/usr/bin/env bash
# Builds the guests and boots them under QEMU TCG (boot, serial, SMP, exceptions, exit codes; TCG has
# no Hyper-V), then, when /dev/kvm is usable, under build/mockhv (a user-space Hyper-V) for the probe's
# Hyper-V paths. Exit status 0 when every expectation holds.
set -u
cd "$(dirname "$0")"

QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${TIMEOUT:-60}
fails=0
out=""
rc=0

pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
expect() { # expect <name> <condition...>
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name"; printf '%s\n' "$out" | sed 's/^/     | /' | tail -40; fi
}
has() { grep -aqF -- "$1" <<<"$out"; }
rc_is() { [ "$rc" -eq "$1" ]; }

tcg() { # tcg <kernel> <append> [qemu args...]
	local kernel=$1 append=$2; shift 2
	out=$(timeout "$TIMEOUT" "$QEMU" -machine pc -accel tcg -cpu qemu64 -m 128 -nographic -monitor none \
		-no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" -append "$append" \
		-serial stdio -display none "$@" 2>&1)
	rc=$?
}
mock() { # mock <mockhv args...>
	out=$(timeout "$TIMEOUT" build/mockhv "$@" 2>&1)
	rc=$?
}

# JSON shape of every @@hvprobe line; first @@ line is -start, last is -done; done counts match.
probe_protocol_ok() {
	command -v python3 >/dev/null || { has '@@hvprobe-start {"version":1' && has '@@hvprobe-done {'; return; }
	python3 - "$out" <<'PY'
import json, sys
lines = [l for l in sys.argv[1].splitlines() if l.startswith("@@")]
assert lines and lines[0].startswith("@@hvprobe-start "), "first @@ line is not @@hvprobe-start"
start = json.loads(lines[0][len("@@hvprobe-start "):])
assert start["version"] == 1 and isinstance(start["cmdline"], str)
done = [l for l in lines if l.startswith("@@hvprobe-done ")]
assert len(done) == 1 and lines[-1] == done[0], "@@hvprobe-done is not the last @@ line"
counts = json.loads(done[0][len("@@hvprobe-done "):])
p = f = s = 0
for l in lines[1:-1]:
    if l.startswith("@@hvprobe "):
        c = json.loads(l[len("@@hvprobe "):])
        assert set(c) == {"check", "enl", "ok", "saw", "expect", "cycles", "ref"}, c
        assert isinstance(c["ok"], bool) and isinstance(c["cycles"], int) and isinstance(c["ref"], int)
        if c["check"] == "selftest.json":
            assert c["saw"] == 'quote" backslash\\ tab\t ctl\x01 hi\x80', repr(c["saw"])
        p, f = p + c["ok"], f + (not c["ok"])
    elif l.startswith("@@hvprobe-skip "):
        c = json.loads(l[len("@@hvprobe-skip "):])
        assert set(c) == {"check", "enl", "reason"}, c
        s += 1
assert counts == {"passed": p, "failed": f, "skipped": s}, (counts, p, f, s)
PY
}
check_is() { # check_is <id> <true|false>
	grep -aq "^@@hvprobe {\"check\":\"$1\",[^}]*\"ok\":$2," <<<"$out"
}

echo "== build"
start=$(date +%s.%N)
if ! make -s; then echo "FAIL build"; exit 1; fi
for f in build/probe.elf build/hello.elf; do
	expect "$f is an ELF32 multiboot image" bash -c "[ \"\$(od -An -tx1 -N5 $f | tr -d ' ')\" = 7f454c4601 ] && od -An -tx4 -N8192 $f | grep -q 1badb002"
done

echo "== hello (TCG)"
tcg build/hello.elf 'greeting=yes'
expect "hello: greeting" has 'hello from hv guest'
expect "hello: cmdline echoed" has 'greeting=yes'
expect "hello: fw_cfg signature" has 'fw_cfg signature: QEMU'
expect "hello: exit 0x10 -> status 33" rc_is 33
tcg build/hello.elf 'exit=0x3'
expect "hello: exit=0x3 -> status 7" rc_is 7
tcg build/hello.elf 'smp=2' -smp 2
expect "hello smp=2: ap 1 up" has 'ap 1 up'
expect "hello smp=2: all APs" has 'smp: 1 of 1 APs up'
expect "hello smp=2: status 33" rc_is 33
tcg build/hello.elf 'smp=4' -smp 4
expect "hello smp=4: aps 1..3 up" bash -c "[ \$(grep -ac '^ap [123] up' <<<\"\$0\") -eq 3 ]" "$out"
expect "hello smp=4: status 33" rc_is 33

echo "== probe (TCG: no Hyper-V)"
tcg build/probe.elf 'guest_os_id=0x0001040A00004F7C profile=tcg'
expect "probe: protocol (start, JSON lines, done counts)" probe_protocol_ok
expect "probe: base.cpuid.hv1 fails with a reason" bash -c "grep -a '\"check\":\"base.cpuid.hv1\",\"enl\":\"base\",\"ok\":false,\"saw\":\"0x40000001.EAX=' <<<\"\$0\" | grep -q 'no Hyper-V interface'" "$out"
expect "probe: the rest is skipped" has '@@hvprobe-skip {"check":"time.*"'
expect "probe: status 3 (guest exit 1)" rc_is 3
tcg build/probe.elf 'selftest=1'
expect "probe selftest: protocol" probe_protocol_ok
for c in fixup_ud fixup_gp stub_call stub_ud stub_gp json; do
	expect "probe selftest: selftest.$c" check_is "selftest.$c" true
done
tcg build/probe.elf 'selftest=fatal'
expect "probe selftest=fatal: @@fatal line" has '@@fatal {"vector":6,"name":"#UD"'
expect "probe selftest=fatal: status 5" rc_is 5

if [ -x build/mockhv ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "== mockhv (KVM + user-space Hyper-V)"
	mock -s 2 -t 30 build/hello.elf 'smp=2'
	expect "mockhv hello smp=2: direct 32-bit entry + AP up" has 'ap 1 up'
	expect "mockhv hello: status 33" rc_is 33
	# periodic=0: mockhv's stimers are one-shot direct-mode only (no periodic re-arm, no message mode).
	# eoi=0: mockhv runs on KVM's in-kernel LAPIC (no auto-EOI, no exit-less EOI, no synthetic ICR).
	mock -s 2 -t 30 build/probe.elf 'guest_os_id=0x0001040A00004F7C profile=all smp=2 crash=1 periodic=0 eoi=0'
	expect "mockhv probe all: protocol" probe_protocol_ok
	expect "mockhv probe all: no failed check" has '"failed":0,'
	expect "mockhv probe all: crash reported" has 'mockhv: guest crash P0=0xdead'
	expect "mockhv probe all: status 1 (guest exit 0)" rc_is 1
	for c in time.bracket_1s ipi.to_other_vp tlbflush.remote_no_stale; do
		expect "mockhv probe all: $c" check_is "$c" true
	done
	expect "mockhv probe all: synic.post.busy_then_eom skipped (no hyperv-testdev)" has '@@hvprobe-skip {"check":"synic.post.busy_then_eom"'
	mock -t 30 -e vpindex,tlbflush build/probe.elf 'expect=vpindex,tlbflush'
	expect "mockhv probe minimal: absent checks pass" has '"failed":0,'
	expect "mockhv probe minimal: xmm-input.absent (#UD in stub)" check_is xmm-input.absent true
	expect "mockhv probe minimal: status 1" rc_is 1
	mock -t 30 -e none build/probe.elf 'hv=0'
	expect "mockhv probe hv=0: status 1" rc_is 1
	mock -t 30 -e none build/probe.elf ''
	expect "mockhv probe no Hyper-V: status 3" rc_is 3
	mock -t 30 -b vpindex-writable build/probe.elf ''
	expect "mockhv probe broken VP_INDEX: vpindex.write_gp fails" check_is vpindex.write_gp false
	expect "mockhv probe broken VP_INDEX: status 3" rc_is 3
	mock -t 30 -b tsc-page-late build/probe.elf ''
	expect "mockhv probe late TSC page: time.tsc_page.sequence fails" check_is time.tsc_page.sequence false
else
	echo "== mockhv skipped (no usable /dev/kvm)"
fi

printf '%d failure(s), %.1f s\n' "$fails" "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)"
[ "$fails" -eq 0 ]
