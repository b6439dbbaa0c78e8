#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_agent.sh - rtraced on a vantage point of the line test internet, driven
# over TLS from the source host by an independent client (python3's ssl module
# speaking the ctl.h wire format from its spec, not our C codec):
#  1. HELLO: agent name, probing address and spoof capability;
#  2. PING with Record Route -> RESULT holding scamper JSON with the replies;
#  3. TRACE icmp-paris -> the hops are the ground-truth routers vp1 -> d1;
#  4. spoofed PING with the client's own address: the agent sends it, and
#     rtrace-probe listen on the client sees the replies with our request id;
#  5. refusals: spoofing a foreign address without a grant (DENIED, reason),
#     with a grant (accepted), blocklisted target (BLOCKED), in-flight cap
#     (BUSY), HELLO name != certificate (DENIED), a denied client, a client of
#     a foreign CA (TLS failure);
#  6. CANCEL of a long ping returns its final RESULT at once; the PING
#     interval is honoured (200 ms), too short or too long pings are refused;
#  7. SIGHUP reloads the policy (a new grant works); SIGTERM stops cleanly.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
tb_need_root
# Certificates: agent vp1; clients alice, bob, eve; a foreign CA with its own alice.
agent_line_up alice bob eve
cat >"$T/policy" <<EOF
global rate 5000 inflight 64
client alice spoof $D2
client bob inflight 1
client eve deny
blocklist 10.250.0.0/16
EOF

agent_start vp1 "$T/agent.log" -i eth0 -l "$PORT" -c "$T/certs" -n vp1 --policy "$T/policy" \
	-v >"$T/agent.out"
AGENT=$AGENT_PID

cat >"$T/agentc.py" <<'PYEOF'
# A control-link client written from the protocol description in ctl.h.
import json, socket, ssl, struct, sys, time

MAGIC, VER = 0x5254434C, 1
HELLO, PING, TRACE, RESULT, CANCEL, KEEPALIVE, ERROR = range(1, 8)
ERRS = {3: "denied", 4: "blocked", 5: "rate", 6: "busy", 7: "bad request", 8: "unknown"}

def a2b(a): return socket.inet_aton(a)

class Agent:
    def __init__(self, certs, name, host, port, server_name="vp1"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(certs + "/ca.crt")
        ctx.load_cert_chain(certs + "/%s.crt" % name, certs + "/%s.key" % name)
        raw = socket.create_connection((host, port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname=server_name)
        self.buf = b""

    def send(self, typ, body=b""):
        self.s.sendall(struct.pack(">IBBHI", MAGIC, VER, typ, 0, len(body)) + body)

    def recv(self, timeout=10):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 12:
                magic, ver, typ, flags, n = struct.unpack(">IBBHI", self.buf[:12])
                assert magic == MAGIC and ver == VER and flags == 0, self.buf[:12]
                if len(self.buf) >= 12 + n:
                    body, self.buf = self.buf[12:12 + n], self.buf[12 + n:]
                    return self.decode(typ, body)
            d = self.s.recv(65536)
            if not d:
                return ("EOF",)
            self.buf += d

    def decode(self, typ, b):
        if typ == HELLO:
            ver, caps, addr, rate, infl, nl = struct.unpack(">HH4sIIB", b[:17])
            return ("HELLO", ver, caps, socket.inet_ntoa(addr), rate, infl, b[17:17 + nl].decode())
        if typ == RESULT:
            rid, flags, pad, n = struct.unpack(">IBBH", b[:8])
            assert len(b) == 8 + n
            return ("RESULT", rid, flags & 1, json.loads(b[8:]) if n else None)
        if typ == ERROR:
            rid, code, n = struct.unpack(">IHB", b[:7])
            return ("ERROR", rid, ERRS.get(code, code), b[7:7 + n].decode())
        return (typ, b)

    def hello(self, name):
        nb = name.encode()
        self.send(HELLO, struct.pack(">HH4sIIB", 1, 0, b"\0" * 4, 0, 0, len(nb)) + nb)
        return self.recv()

    def ping(self, rid, dst, count=1, rr=0, spoof="0.0.0.0", cookie=0, wait_ms=1000,
             interval_ms=0):
        self.send(PING, struct.pack(">I4s4sIHHHHBBBB16s", rid, a2b(dst), a2b(spoof), cookie,
                                    count, 0, wait_ms, interval_ms, 0, rr, 0, 0, b"\0" * 16))

    def trace(self, rid, dst, first=1, maxttl=16, attempts=1, gap=3, method=1):
        self.send(TRACE, struct.pack(">I4sBBBBBBH", rid, a2b(dst), first, maxttl, attempts,
                                     gap, method, 0, 1000))

def expect(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
    print("ok:", what)

def main():
    certs, host, port, src, vp, d1, d2, routers = sys.argv[1:9]
    port, routers = int(port), routers.split()
    step = sys.argv[9]
    if step == "main":
        a = Agent(certs, "alice", host, port)
        h = a.hello("alice")
        expect(h[0] == "HELLO" and h[6] == "vp1" and h[3] == vp and h[2] & 2,
               "HELLO from vp1 with its address and spoof capability: %s" % (h,))
        a.ping(1, d1, count=2, rr=1)
        r = a.recv()
        expect(r[0] == "RESULT" and r[1] == 1 and r[2] == 1, "RR ping RESULT final: %s" % (r[:3],))
        j = r[3]
        expect(j["type"] == "ping" and j["dst"] == d1 and j["src"] == vp and j["ping_sent"] == 2,
               "ping JSON: type/src/dst/ping_sent")
        rr = [x.get("RR") for x in j["responses"]]
        expect(len(rr) == 2 and all(rr), "2 replies with Record Route: %s" % rr[:1])
        a.trace(2, d1)
        r = a.recv()
        expect(r[0] == "RESULT" and r[3]["type"] == "trace" and r[3]["stop_reason"] == "COMPLETED",
               "trace RESULT COMPLETED")
        hops = [h["addr"] for h in sorted(r[3]["hops"], key=lambda h: h["probe_ttl"])]
        expect(len(hops) == len(routers) + 1 and hops[-1] == d1,
               "trace hops %s: %d routers then d1" % (hops, len(routers)))
        # spoofed with our own address, cookie 4242: the listener on src sees it
        a.ping(3, d1, count=2, spoof=src, cookie=4242)
        r = a.recv()
        expect(r[0] == "RESULT" and r[1] == 3 and r[3]["ping_sent"] == 2,
               "spoofed ping (own address) sent: %s" % (r[:3],))
        # spoof d2: alice holds a grant
        a.ping(4, d1, spoof=d2, cookie=1)
        r = a.recv()
        expect(r[0] == "RESULT" and r[1] == 4, "alice may spoof %s (grant): %s" % (d2, r[:3]))
        a.ping(5, "10.250.1.1")
        r = a.recv()
        expect(r[0] == "ERROR" and r[1] == 5 and r[2] == "blocked" and "blocklist" in r[3],
               "blocklisted target refused: %s" % (r,))
        # CANCEL of a 50-probe ping (50 s at the default interval) ends it at once
        a.ping(6, d1, count=50)
        time.sleep(0.3)
        a.send(CANCEL, struct.pack(">I", 6))
        t0 = time.time()
        r = a.recv(timeout=5)
        expect(r[0] == "RESULT" and r[1] == 6 and r[2] == 1 and time.time() - t0 < 3,
               "cancelled ping's final RESULT within 3 s: %s" % (r[:3],))
        a.send(CANCEL, struct.pack(">I", 6))
        r = a.recv()
        expect(r[0] == "ERROR" and r[2] == "unknown", "second CANCEL: unknown request")
        # interval: 3 probes 200 ms apart (the default would be 1 s)
        t0 = time.time()
        a.ping(7, d1, count=3, interval_ms=200)
        r = a.recv()
        tx = sorted(x["tx"]["sec"] + x["tx"]["usec"] / 1e6 for x in r[3]["responses"])
        gaps = [b - a for a, b in zip(tx, tx[1:])]
        expect(r[0] == "RESULT" and len(tx) == 3 and all(0.15 < g < 0.4 for g in gaps)
               and time.time() - t0 < 1.8, "PING interval 200 ms: gaps %s" % gaps)
        a.ping(8, d1, count=5, interval_ms=5)
        r = a.recv()
        expect(r[0] == "ERROR" and r[1] == 8 and r[2] == "bad request" and "minimum" in r[3],
               "interval 5 ms refused: %s" % (r,))
        a.ping(9, d1, count=100, interval_ms=2000)
        r = a.recv()
        expect(r[0] == "ERROR" and r[1] == 9 and r[2] == "bad request" and "120 s" in r[3],
               "100 probes 2 s apart refused: %s" % (r,))
    elif step == "refusals":
        b = Agent(certs, "bob", host, port)
        b.hello("bob")
        b.ping(1, d1, spoof=d2, cookie=1)
        r = b.recv()
        expect(r[0] == "ERROR" and r[2] == "denied" and "bob" in r[3] and d2 in r[3],
               "bob may not spoof %s: %s" % (d2, r[3] if len(r) > 3 else r))
        b.ping(2, d1, count=20)
        b.ping(3, d1, count=1)
        r = b.recv()
        expect(r[0] == "ERROR" and r[1] == 3 and r[2] == "busy", "bob's in-flight cap 1: %s" % (r,))
        m = Agent(certs, "bob", host, port)
        r = m.hello("alice")
        expect(r[0] == "ERROR" and r[2] == "denied" and "certificate" in r[3],
               "HELLO name != certificate refused: %s" % (r,))
        e = Agent(certs, "eve", host, port)
        r = e.recv()
        expect(r[0] == "ERROR" and r[2] == "denied" and "eve" in r[3], "eve denied: %s" % (r,))
        expect(e.recv()[0] == "EOF", "eve disconnected")
        try:
            f = Agent(sys.argv[10], "alice", host, port)
            f.hello("alice")
            expect(False, "foreign CA client accepted")
        except ssl.SSLError as ex:
            expect(True, "foreign CA refused: %s" % ex.reason)
    elif step == "reloaded":
        b = Agent(certs, "bob", host, port)
        b.hello("bob")
        b.ping(1, d1, spoof=d2, cookie=1)
        r = b.recv()
        expect(r[0] == "RESULT" and r[1] == 1, "after SIGHUP bob may spoof %s: %s" % (d2, r[:3]))

main()
PYEOF

ROUTERS=$(tb_path vp1 d1)
client() { tb_exec src "$TB_PY" "$T/agentc.py" "$T/certs" "$VP" "$PORT" "$SRC" "$VP" "$D1" "$D2" \
	"$ROUTERS" "$@"; }

# The listener sees the replies to the probes vp1 spoofs with src's address.
ip netns exec "$(tb_ns src)" "$BIN/rtrace-probe" -i eth0 -j listen -t 12 >"$T/listen.json" \
	2>"$T/listen.err" &
LISTEN=$!
tb_on_exit "kill $LISTEN 2>/dev/null"
sleep 1
client main || { cat "$T/agent.log" >&2; fail "main scenario"; }
client refusals "$T/foreign" || { cat "$T/agent.log" >&2; fail "refusals"; }
wait $LISTEN
"$TB_PY" - "$T/listen.json" "$VP" <<'EOF' || { cat "$T/listen.err" >&2; fail "spoofed replies not seen"; }
import json, sys
got = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mine = [o for o in got if o.get("req") == 4242 and o.get("vp") == sys.argv[2]]
print("listener: %d records, %d for req 4242 from vp %s" % (len(got), len(mine), sys.argv[2]))
sys.exit(0 if len(mine) == 2 else 1)
EOF

# SIGHUP: grant bob the spoof of d2, reload, a new connection may.
echo "client bob spoof $D2" >>"$T/policy"
kill -HUP $AGENT
for _ in $(seq 30); do grep -q "policy .* reloaded" "$T/agent.log" && break; sleep 0.1; done
grep -q "certificates reloaded" "$T/agent.log" || fail "no certificate reload logged"
client reloaded || { cat "$T/agent.log" >&2; fail "policy reload"; }

# SIGTERM: a clean stop, exit 0, within 5 s.
kill -TERM $AGENT
for _ in $(seq 50); do kill -0 $AGENT 2>/dev/null || break; sleep 0.1; done
kill -0 $AGENT 2>/dev/null && fail "rtraced still running 5 s after SIGTERM"
wait $AGENT
rc=$?
agent_san_check "$T/agent.log"
[ $rc = 0 ] || { cat "$T/agent.log" >&2; fail "rtraced exit status $rc after SIGTERM"; }
grep -q "stopped:" "$T/agent.log" || fail "no stop summary in the log"
echo "agent log:"; sed 's/^/  | /' "$T/agent.log" | tail -n 30
echo "PASS"
