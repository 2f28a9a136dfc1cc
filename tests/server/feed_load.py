#!/usr/bin/env python3
"""Feed load: N SSE (or, with --websocket, WebSocket) subscribers on one SKU, then orders;
reports the server's memory per subscriber and the update delay (order acknowledged -> event
read by each subscriber).
  tests/server/feed_load.py --http 127.0.0.1:7080 --pid <server pid> --subscribers 10000 --sku 777 [--websocket]
The delay includes this script reading 10,000 sockets in Python, so it is an upper bound."""
import argparse, json, selectors, socket, time, urllib.request

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def main():
    a = argparse.ArgumentParser()
    a.add_argument("--http", default="127.0.0.1:7080")
    a.add_argument("--pid", type=int, required=True)
    a.add_argument("--subscribers", type=int, default=10000)
    a.add_argument("--sku", type=int, default=777)
    a.add_argument("--orders", type=int, default=5)
    a.add_argument("--websocket", action="store_true", help="subscribe over WebSocket instead of SSE")
    args = a.parse_args()
    host, port = args.http.split(":")
    before = rss_kb(args.pid)
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(args.subscribers):
        s = socket.create_connection((host, int(port)))
        upgrade = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") if args.websocket else ""
        s.sendall(f"GET /feed/skus/{args.sku} HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    seqs = [0] * len(socks)
    pending = [b""] * len(socks)
    upgraded = [False] * len(socks)
    def read_ws(i, data):
        """Takes the 101 response, then whole server frames (unmasked); text frames are events."""
        pending[i] += data
        if not upgraded[i]:
            end = pending[i].find(b"\r\n\r\n")
            if end < 0:
                return
            if not pending[i].startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"subscriber {i}: no upgrade: {pending[i][:200]!r}")
            upgraded[i] = True
            pending[i] = pending[i][end + 4:]
        buf = pending[i]
        while len(buf) >= 2:
            opcode, size, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if size == 126:
                size, at = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                size, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + size:
                break
            if opcode == 1:
                seqs[i] = json.loads(buf[at:at + size])["seq"]
            buf = buf[at + size:]
        pending[i] = buf
    def pump(until_seq, deadline):
        arrivals = {}
        while len(arrivals) < len(socks) and time.time() < deadline:
            for key, _ in sel.select(timeout=0.5):
                data = key.fileobj.recv(65536)
                if args.websocket:
                    read_ws(key.data, data)
                for part in ([] if args.websocket else data.decode().split("\n")):
                    if part.startswith("id: "):
                        seqs[key.data] = int(part[4:])
                if seqs[key.data] >= until_seq and key.data not in arrivals:
                    arrivals[key.data] = time.time()
        return arrivals
    first = pump(1, time.time() + 60)
    time.sleep(1)
    after = rss_kb(args.pid)
    print(f"subscribers connected and fed: {len(first)} of {len(socks)}")
    print(f"server RSS {before} kB -> {after} kB: {(after - before) * 1024 / len(socks):.0f} bytes per subscriber")
    delays = []
    for n in range(args.orders):
        target = max(seqs) + 1
        body = json.dumps({"idempotency_key": 10**15 + int(time.time() * 1e6) % 10**9 + n, "merchant_id": 1,
                           "buyer_id": 5 + n, "region": 1, "city_tier": 1, "lines": [{"sku_id": args.sku, "quantity": 1}]})
        req = urllib.request.Request(f"http://{args.http}/orders", data=body.encode(), method="POST")
        urllib.request.urlopen(req).read()
        acked = time.time()
        arrivals = pump(target, time.time() + 30)
        d = sorted(t - acked for t in arrivals.values())
        delays.append((len(d), d[len(d) // 2] * 1000, d[-1] * 1000))
        print(f"order {n}: event seq {target} at {len(d)} subscribers, delay p50 {d[len(d)//2]*1000:.1f} ms, max {d[-1]*1000:.1f} ms")
    for s in socks:
        s.close()

main()
