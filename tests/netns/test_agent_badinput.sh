#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_agent_badinput.sh - the real rtraced (vp1 of the line test internet;
# its ASan build when there is one) against bad clients at src, while a good
# client's 40-probe ping runs alongside and must get every reply:
#  1. over TLS, with an independent python client: garbage bytes, a 4 GB
#     length prefix, a wrong protocol version, an invalid field - each answered
#     with a protocol ERROR naming the reason, then closed;
#  2. slow loris: a client that never finishes a frame is cut off after
#     --frame-timeout, one that never starts the TLS handshake after
#     --handshake-timeout, while another client is served meanwhile;
#  3. no TLS at all (plain bytes) and a client of a foreign CA fail the handshake;
#  4. rtrace-probe -a: a blocklisted target is refused (blocked), spoofing a
#     foreign address is refused (denied), spoofing our own address works;
#  5. SIGTERM while a client waits for a long ping: it gets ERROR "agent
#     shutting down" for its request and for the connection, then EOF.
# Every refusal has its reason in the agent's log; the agent exits 0 with no
# sanitizer report (ASan, UBSan, LeakSanitizer at exit).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
tb_need_root
agent_line_up alice
agent_pick_bin
printf 'global rate 5000 inflight 64\nblocklist 10.250.0.0/16\n' >"$T/policy"
LOG=$T/agent.log
agent_start vp1 "$LOG" -i eth0 -l "$PORT" -c "$T/certs" -n vp1 --policy "$T/policy" \
	--frame-timeout 1500 --handshake-timeout 1500
A=(-a "$VP:$PORT" -c "$T/certs" -n alice -j)

# The good client, running through everything below.
ip netns exec "$(tb_ns src)" "$PROBE" "${A[@]}" ping -c 40 -i 0.1 "$D1" >"$T/good.json" \
	2>"$T/good.err" &
GOOD=$!

cat >"$T/bad.py" <<'PYEOF'
# Bad clients, written from the protocol description in ctl.h.
import socket, ssl, struct, sys, time

MAGIC, HELLO, PING, ERROR = 0x5254434C, 1, 2, 7
certs, host, port, d1, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def hdr(typ, n, ver=1, magic=MAGIC): return struct.pack(">IBBHI", magic, ver, typ, 0, n)

def hello_body(name):
    return struct.pack(">HH4sIIB", 1, 0, b"\0" * 4, 0, 0, len(name)) + name.encode()

def ping_body(rid, dst, count=1, interval=0):
    return struct.pack(">I4s4sIHHHHBBBB16s", rid, socket.inet_aton(dst), b"\0" * 4, 0, count,
                       0, 1000, interval, 0, 0, 0, 0, b"\0" * 16)

class Conn:
    def __init__(self, certdir=certs, name="alice"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(certdir + "/ca.crt")
        ctx.load_cert_chain("%s/%s.crt" % (certdir, name), "%s/%s.key" % (certdir, name))
        self.s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                                 server_hostname="vp1")
        self.buf = b""

    def send(self, b): self.s.sendall(b)

    def recv(self, timeout=5):
        """The next message as (type, body), ("EOF",) or ("TIMEOUT",)."""
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 12:
                magic, ver, typ, flags, n = struct.unpack(">IBBHI", self.buf[:12])
                if len(self.buf) >= 12 + n:
                    body, self.buf = self.buf[12:12 + n], self.buf[12 + n:]
                    return (typ, body)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return ("TIMEOUT",)
            except (ssl.SSLError, ConnectionError, OSError):
                return ("EOF",)
            if not d:
                return ("EOF",)
            self.buf += d

    def hello(self):
        self.send(hdr(HELLO, len(hello_body("alice"))) + hello_body("alice"))
        r = self.recv()
        assert r[0] == HELLO, r

def error_of(m):
    rid, code, n = struct.unpack(">IHB", m[1][:7])
    return rid, code, m[1][7:7 + n].decode()

def expect(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
    print("ok:", what)

def refused_with(conn, reason, what):
    t0 = time.time()
    m = conn.recv()
    ok = m[0] == ERROR and error_of(m)[1] == 1 and reason in error_of(m)[2]
    expect(ok, "%s: protocol ERROR %r" % (what, error_of(m) if m[0] == ERROR else m))
    m = conn.recv()
    expect(m[0] == "EOF" and time.time() - t0 < 3, "%s: then closed" % what)

if step == "bad":
    # Slow lorises first: they wait while everything else happens.
    loris = Conn(); loris.hello()
    loris.send(hdr(PING, 44)[:5])
    t_loris = time.time()
    hs = socket.create_connection((host, port), timeout=10)
    t_hs = time.time()

    c = Conn()
    c.send(b"GET / HTTP/1.1\r\nHost: vp1\r\n\r\n")
    refused_with(c, "bad magic", "garbage bytes")
    c = Conn(); c.hello()
    c.send(hdr(PING, 0xFFFFFFFF))
    refused_with(c, "length prefix over the limit", "4 GB length prefix (no body sent)")
    c = Conn(); c.hello()
    c.send(hdr(PING, 44, ver=2) + ping_body(1, d1))
    refused_with(c, "unsupported protocol version", "protocol version 2")
    c = Conn(); c.hello()
    c.send(hdr(PING, 44) + ping_body(1, d1, count=0))
    refused_with(c, "invalid field", "PING with count 0")

    # Served while the loris hangs.
    g = Conn(); g.hello()
    for rid in (1, 2, 3):
        g.send(hdr(PING, 44) + ping_body(rid, d1, count=2, interval=50))
    got = [g.recv() for _ in range(3)]
    expect(all(m[0] == 4 for m in got), "3 pings served while the slow loris hangs")
    expect(time.time() - t_loris < 1.5, "... before the loris deadline")

    m = loris.recv(timeout=6)
    dt = time.time() - t_loris
    expect(m[0] == "EOF" and 1.3 < dt < 4, "slow loris (5 of 12 header bytes) cut off after %.1f s" % dt)
    hs.settimeout(6)
    try:
        d = hs.recv(100)
    except ConnectionError:
        d = b""
    dt = time.time() - t_hs
    expect(d == b"" and 1.3 < dt < 4, "silent TCP client (no TLS handshake) cut off after %.1f s" % dt)

    # No TLS at all, and a foreign CA.
    p = socket.create_connection((host, port), timeout=10)
    p.sendall(b"\x00" * 64 + b"plain text, not TLS\r\n")
    p.settimeout(5)
    try:
        while p.recv(4096):
            pass
        closed = True
    except ConnectionError:
        closed = True
    except socket.timeout:
        closed = False
    expect(closed, "plain bytes instead of TLS: closed")
    try:
        f = Conn(sys.argv[6])
        f.send(hdr(HELLO, len(hello_body("alice"))) + hello_body("alice"))
        m = f.recv()
        expect(m[0] == "EOF", "foreign CA: no answer, closed: %r" % (m,))
    except ssl.SSLError as ex:
        expect(True, "foreign CA refused: %s" % ex.reason)
elif step == "shutdown":
    c = Conn(); c.hello()
    c.send(hdr(PING, 44) + ping_body(7, d1, count=50, interval=100))
    time.sleep(0.3)
    open(sys.argv[6], "w").write("ready\n")
    msgs = []
    while True:
        m = c.recv(timeout=10)
        if m[0] in ("EOF", "TIMEOUT"):
            break
        msgs.append(m)
    errs = [error_of(m) for m in msgs if m[0] == ERROR]
    print("at SIGTERM:", errs)
    expect((7, 10, "agent shutting down") in errs, "the running request: ERROR shutting down")
    expect((0, 10, "agent shutting down") in errs, "the connection: ERROR shutting down")
    expect(m[0] == "EOF", "then EOF")
PYEOF

py() { tb_exec src "$TB_PY" "$T/bad.py" "$T/certs" "$VP" "$PORT" "$D1" "$@"; }
py bad "$T/foreign" || { tail -n 30 "$LOG"; fail "bad clients"; }

# 4. refusals through rtrace-probe -a, and the allowed spoof.
tb_exec src "$PROBE" "${A[@]}" ping -c 1 10.250.0.1 >/dev/null 2>"$T/err" &&
	fail "blocklisted target accepted"
grep -q "refused: blocked" "$T/err" || { cat "$T/err"; fail "blocklist: no reason"; }
tb_exec src "$PROBE" "${A[@]}" ping -c 1 -S "$D2" -Q 5 "$D1" >/dev/null 2>"$T/err" &&
	fail "spoof of a foreign address accepted"
grep -q "refused: denied" "$T/err" && grep -q "may not spoof $D2" "$T/err" ||
	{ cat "$T/err"; fail "foreign spoof: no reason"; }
tb_exec src "$PROBE" "${A[@]}" ping -c 1 -S "$SRC" -Q 6 "$D1" >"$T/spoof.json" 2>"$T/err" ||
	{ cat "$T/err"; fail "spoof of our own address refused"; }
grep -q '"ping_sent":1' "$T/spoof.json" || fail "own-address spoof: no probe sent"
echo "ok: rtrace-probe -a: blocklist refused, foreign spoof refused, own spoof sent"

# The good client saw none of it.
wait $GOOD || fail "the good client failed: $(cat "$T/good.err")"
"$TB_PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); r=o["statistics"]["replies"]
print("ok: the good client: %d of 40 replies" % r); sys.exit(r != 40)' "$T/good.json" ||
	fail "the good client was disturbed"

# Each refusal has its reason in the log.
for reason in "bad magic" "length prefix over the limit" "unsupported protocol version" \
	"invalid field" "message not complete within 1500 ms" \
	"TLS handshake not done within 1500 ms" "TLS handshake failed" \
	"refused: blocked" "refused: denied: client alice .* may not spoof $D2"; do
	grep -qE "$reason" "$LOG" || { tail -n 40 "$LOG"; fail "no '$reason' in the agent log"; }
done
[ "$(agent_count "TLS handshake failed" "$LOG")" -ge 2 ] ||
	fail "plain bytes and the foreign CA: expected 2 handshake failures in the log"
echo "ok: every refusal logged with its reason"

# 5. SIGTERM with a client waiting.
py shutdown "$T/ready" >"$T/shutdown.out" 2>&1 &
PYS=$!
for _ in $(seq 50); do [ -s "$T/ready" ] && break; sleep 0.1; done
[ -s "$T/ready" ] || { cat "$T/shutdown.out"; fail "shutdown client did not start"; }
agent_stop $AGENT_PID "$LOG"
wait $PYS || { cat "$T/shutdown.out"; fail "SIGTERM: client not told"; }
cat "$T/shutdown.out"
grep -q "stopping: 1 clients told, 1 running requests cancelled" "$LOG" || fail "no shutdown line"
echo "agent log (tail):"; tail -n 4 "$LOG" | sed 's/^/  | /'
echo "PASS"
