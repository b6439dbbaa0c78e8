# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# agent_lib.sh - helpers of the rtraced netns tests (bash; source after lib.sh).
#
#   agent_line_up CLIENT...    # the agent tests' start: rtraced and rtrace-probe
#                              # built (BIN, PROBE, AGENT_BIN), the line test
#                              # internet up; T, SRC, VP (vp1), D1, D2, PORT
#                              # (7777); certificates in $T/certs for vp1 and
#                              # each CLIENT, a foreign CA's alice in $T/foreign
#   agent_pick_bin             # AGENT_BIN: $BIN/rtraced, or the ASan build when
#                              # $BIN is not one (build/asan/bin, if not older);
#                              # it and $PROBE (if set) are copied to $TB_TMP
#   agent_start NODE LOG ARGS  # rtraced in NODE's namespace, stderr to LOG;
#                              # waits for "listening on port"; sets AGENT_PID
#   agent_stop PID LOG         # SIGTERM, exit 0 within 5 s, no sanitizer report
#   agent_san_check LOG        # fail if LOG holds an ASan/LSan/UBSan report
#   agent_count PATTERN LOG    # lines of LOG matching PATTERN (grep -E)

# is_asan FILE: the binary is instrumented by AddressSanitizer.
is_asan() { grep -q __asan_init "$1" 2>/dev/null; }

agent_line_up() {
	tb_need_bin rtraced rtrace-probe
	PROBE=$BIN/rtrace-probe
	AGENT_BIN=$BIN/rtraced
	tb_up line
	T=$TB_TMP
	SRC=$(tb_addr src)
	VP=$(tb_addr vp1)
	D1=$(tb_addr d1)
	D2=$(tb_addr d2)
	PORT=7777
	"$TB_ROOT/tools/rtrace-keygen" "$T/certs" vp1 "$@" 2>/dev/null || fail "keygen"
	"$TB_ROOT/tools/rtrace-keygen" "$T/foreign" alice 2>/dev/null || fail "keygen foreign"
}

agent_pick_bin() {
	local cand=$TB_ROOT/build/asan/bin/rtraced
	AGENT_BIN=$BIN/rtraced
	if ! is_asan "$AGENT_BIN" && [ -x "$cand" ] && ! [ "$cand" -ot "$AGENT_BIN" ] &&
		is_asan "$cand"; then
		AGENT_BIN=$cand
	fi
	if is_asan "$AGENT_BIN"; then
		echo "agent: $AGENT_BIN (ASan+UBSan build)"
	else
		echo "agent: $AGENT_BIN (no ASan build newer than it: run 'make asan' for the check)"
	fi
	# Private copies: a rebuild of the tree during the test does not pull them away.
	cp "$AGENT_BIN" "$TB_TMP/rtraced" && AGENT_BIN=$TB_TMP/rtraced || fail "copy $AGENT_BIN"
	if [ -n "${PROBE:-}" ]; then
		cp "$PROBE" "$TB_TMP/rtrace-probe" && PROBE=$TB_TMP/rtrace-probe || fail "copy $PROBE"
	fi
	# Reports go to stderr (the log); leaks are checked at exit.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
}

agent_start() {
	local node=$1 log=$2
	shift 2
	# Not through tb_exec: $! must be rtraced itself (ip netns exec execs it).
	ip netns exec "$(tb_ns "$node")" "$AGENT_BIN" "$@" 2>"$log" &
	AGENT_PID=$!
	tb_on_exit "kill $AGENT_PID 2>/dev/null; wait $AGENT_PID 2>/dev/null"
	tb_wait_log $AGENT_PID "$log" "listening on port" rtraced && return 0
	cat "$log" >&2
	fail "rtraced did not start within 10 s"
}

agent_san_check() {
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$1"; then
		grep -E -A30 "AddressSanitizer|LeakSanitizer|runtime error:" "$1" | head -60 >&2
		fail "sanitizer report in the agent's stderr ($1)"
	fi
}

agent_stop() {
	local pid=$1 log=$2 rc
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "rtraced still running 5 s after SIGTERM"
	wait "$pid"
	rc=$?
	agent_san_check "$log"
	[ $rc = 0 ] || { tail -n 20 "$log" >&2; fail "rtraced exit status $rc after SIGTERM"; }
	grep -q "stopped:" "$log" || fail "no stop summary in the agent log"
}

agent_count() { grep -cE "$1" "$2" || true; }
