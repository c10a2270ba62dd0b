"""Limits of the terminal port: malformed RESP, frame size, argument count, pipeline
backlog, idle and auth timeouts, connection count. A misbehaving client costs bounded memory
and never harms other connections (ARCHITECTURE "Limits"); yktd never exits non-zero because
of it (the harness checks the exit status at every cleanup)."""

import socket
import time
import unittest

from harness import GatewayTest, RespClient, encode, wait_until

SECRET = "limits-secret-0123456789"


def conn_row(gw, client):
    """The `conn list` row of a client's TCP connection (matched by its local port)."""
    peer = "127.0.0.1:%d" % client.sock.getsockname()[1]
    rows = [r for r in gw.ctl("conn", "list") if r["peer"] == peer]
    return rows[0] if rows else None


class LimitsTestCase(GatewayTest):
    def setUp(self):
        super().setUp()
        self.gw.add_terminal("POS-1", "pos", SECRET)

    def assertRefusedAndClosed(self, client, code, message):
        r = client.read()
        self.assertError(r, code)
        self.assertEqual(r.message, message)
        self.assertTrue(client.closed_by_server(), "the connection was left open")
        self.assertEqual(client.buf, b"", "more than one reply was sent")


class MalformedRequestTest(LimitsTestCase):
    """A framing error cannot be resynchronised: -BAD_REQUEST, then the connection closes.
    Other connections are untouched."""

    CASES = [
        # (bytes sent, reason in the reply)
        (b"*1\r\n$x\r\n", "invalid length"),
        (b"*\r\n", "invalid length"),
        (b"*1\n$4\nPING\n", "invalid length"),  # LF without CR
        (b"*1 \r\n", "invalid length"),
        (b"*1\r\n$4\r\nPINGxx\r\n", "bulk string not terminated by CRLF"),  # length lies
        (b"*1\r\n$4\r\nPING\n\n", "bulk string not terminated by CRLF"),  # CRLF missing
        (b"*2\r\n$4\r\nPING\r\n*1\r\n", "expected '$' (bulk string)"),  # '*' where '$' goes
        (b"*1\r\n:4\r\n", "expected '$' (bulk string)"),
        (b"*1\r\n+PING\r\n", "expected '$' (bulk string)"),
        (b"*-1\r\n", "negative array length"),
        (b"*1\r\n$-1\r\n", "null or negative bulk length"),
        (b"*99999999999999999999\r\n", "length out of range"),
        (b"*1\r\n$1234567890123456789\r\n", "length out of range"),
    ]

    def test_malformed_frames_are_refused_and_closed(self):
        bystander = self.gw.terminal("POS-1", SECRET)
        for data, reason in self.CASES:
            with self.subTest(data=data):
                c = self.gw.client()
                c.send_raw(data)
                self.assertRefusedAndClosed(c, "BAD_REQUEST", reason)
                # the connection that behaves is still served
                self.assertEqual(bystander.call("PING", "still here"), "still here")
        self.assertIsInstance(bystander.call("TIME"), int)
        self.assertIn("protocol error: invalid length; closing", self.gw.log_text())

    def test_malformed_frame_after_good_requests(self):
        # requests before the bad frame are answered in order, then the error, then close
        c = self.gw.terminal("POS-1", SECRET)
        c.send_raw(encode("PING", "a") + encode("PING", "b") + b"*1\r\n$3\r\nabcd\r\n"
                   + encode("PING", "never"))
        self.assertEqual(c.read(), "a")
        self.assertEqual(c.read(), "b")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "bulk string not terminated by CRLF")

    def test_malformed_frame_split_across_writes(self):
        # the parser waits for the rest of a header line, then judges it
        c = self.gw.client()
        c.send_raw(b"*1\r\n$")
        self.assertFalse(c.closed_by_server(wait=0.3))
        c.send_raw(b"4x\r\n")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "invalid length")

    def test_empty_array_is_an_empty_request_and_keeps_the_connection(self):
        c = self.gw.client()
        c.send_raw(b"*0\r\n")
        r = c.read()
        self.assertError(r, "BAD_REQUEST")
        self.assertEqual(r.message, "empty request")
        self.assertEqual(c.call("PING"), "PONG")
        t = self.gw.terminal("POS-1", SECRET)
        t.send_raw(b"*0\r\n*0\r\n")
        self.assertError(t.read(), "BAD_REQUEST")
        self.assertError(t.read(), "BAD_REQUEST")
        self.assertIsInstance(t.call("TIME"), int)

    def test_inline_requests(self):
        c = self.gw.client()
        c.send_raw(b"PING\r\n")
        self.assertEqual(c.read(), "PONG")
        c.send_raw(b"ping hello\n")  # bare LF and lower case, as typed at nc
        self.assertEqual(c.read(), "hello")
        c.send_raw(b"\r\n\r\n  PING \t\r\n")  # empty lines are skipped, blanks separate
        self.assertEqual(c.read(), "PONG")
        c.send_raw(b"TIME\r\n")
        self.assertError(c.read(), "NOAUTH")
        c.send_raw(("AUTH POS-1 %s\r\n" % SECRET).encode())
        self.assertEqual(c.read(), "OK")
        c.send_raw(b"TIME\r\nPING x\r\n")
        self.assertIsInstance(c.read(), int)
        self.assertEqual(c.read(), "x")
        # a line that does not start with '*' is an inline request, as in Redis: "$4" is a
        # verb nobody knows, not a framing error, so the connection stays open
        c.send_raw(b"$4\r\nPING\r\n")
        r = c.read()
        self.assertError(r, "BAD_REQUEST")
        self.assertEqual(r.message, "unknown verb '$4'")
        self.assertEqual(c.read(), "PONG")

    def test_huge_declared_length_is_refused_before_the_payload(self):
        bystander = self.gw.terminal("POS-1", SECRET)
        for header in (b"*1\r\n$999999999999\r\n",
                       b"*2\r\n$4\r\nPING\r\n$1048577\r\n",  # one byte over the 1m default
                       b"*1\r\n$999999999999999999\r\n"):
            with self.subTest(header=header):
                c = self.gw.client(timeout=5)
                c.send_raw(header)  # and not one byte of payload
                self.assertRefusedAndClosed(c, "BAD_REQUEST",
                                            "request larger than the frame limit")
        self.assertEqual(bystander.call("PING"), "PONG")

    def test_declared_length_is_not_allocated_up_front(self):
        # a legal but large declared length: the buffer grows with what arrives, not with
        # what was announced
        c = self.gw.terminal("POS-1", SECRET)
        n = 1_000_000
        c.send_raw(b"*2\r\n$4\r\nPING\r\n$%d\r\n" % n + b"x" * 100)
        self.assertTrue(wait_until(lambda: conn_row(self.gw, c)["buffer_bytes"] > 0))
        self.assertLess(conn_row(self.gw, c)["buffer_bytes"], 64 * 1024)
        c.send_raw(b"x" * (n - 100) + b"\r\n")
        self.assertEqual(c.read(), "x" * n)
        self.assertEqual(c.call("PING"), "PONG")


class FrameSizeTest(LimitsTestCase):
    sets = {"terminal.max_frame_bytes": "4096", "terminal.max_args": "8"}

    def test_frame_at_the_limit_passes_one_byte_over_is_refused(self):
        c = self.gw.terminal("POS-1", SECRET)
        head = b"*2\r\n$4\r\nPING\r\n$4073\r\n"
        frame = head + b"y" * 4073 + b"\r\n"
        self.assertEqual(len(frame), 4096)
        c.send_raw(frame)
        self.assertEqual(c.read(), "y" * 4073)
        c.send_raw(b"*2\r\n$4\r\nPING\r\n$4074\r\n" + b"y" * 4074 + b"\r\n")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "request larger than the frame limit")

    def test_declared_length_over_the_limit_is_refused_at_once(self):
        c = self.gw.client(timeout=5)
        c.send_raw(b"*2\r\n$4\r\nPING\r\n$5000\r\n")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "request larger than the frame limit")

    def test_many_small_arguments_over_the_limit(self):
        c = self.gw.terminal("POS-1", SECRET)
        c.send_raw(encode("HEALTH", "ok", "z" * 2000, "z" * 2000, "z" * 2000))
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "request larger than the frame limit")

    def test_inline_line_over_the_limit(self):
        c = self.gw.client()
        c.send_raw(b"PING " + b"w" * 4200)  # no newline yet: the line can only get longer
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "inline request too long")

    def test_argument_count(self):
        bystander = self.gw.terminal("POS-1", SECRET)
        c = self.gw.client()
        # eight arguments are within the limit: the verb itself refuses the shape
        r = c.call("PING", *["a"] * 7)
        self.assertError(r, "BAD_REQUEST")
        self.assertEqual(r.message, "usage: PING [message]")
        self.assertEqual(c.call("PING"), "PONG")
        # nine are refused from the header alone, before any argument arrives
        c.send_raw(b"*9\r\n")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "too many arguments")
        c = self.gw.client()
        c.send_raw(b"*1000000\r\n")
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "too many arguments")
        c = self.gw.client()
        c.send_raw(b"PING 1 2 3 4 5 6 7 8\r\n")  # inline: nine words
        self.assertRefusedAndClosed(c, "BAD_REQUEST", "too many arguments")
        self.assertEqual(bystander.call("PING"), "PONG")


class PipelineTest(LimitsTestCase):
    sets = {"terminal.max_pipeline": "4"}

    def test_long_pipeline_is_answered_in_order_with_a_bounded_backlog(self):
        c = self.gw.terminal("POS-1", SECRET)
        n = 2000
        started = time.time()
        c.send_raw(b"".join(encode("PING", "m%d" % i) for i in range(n)))
        for i in range(n):
            self.assertEqual(c.read(), "m%d" % i)
        # 2000 replies are a few loop iterations, not a timer tick per 4 requests
        self.assertLess(time.time() - started, 10)
        row = conn_row(self.gw, c)  # c is still open
        self.assertEqual(row["who"], "POS-1")
        self.assertEqual(row["requests"], n + 1)  # AUTH + the pipeline
        self.assertEqual(row["pipeline_peak"], 4)
        self.assertEqual(c.call("PING"), "PONG")

    def test_client_that_never_reads_does_not_stop_the_others(self):
        hog_sock = socket.socket()
        hog_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog_sock.connect(("127.0.0.1", self.gw.port))
        hog = RespClient(hog_sock)
        self.gw.clients.append(hog)
        self.assertEqual(hog.call("AUTH", "POS-1", SECRET), "OK")
        # write 1 KiB PINGs (1 KiB replies) until the kernel will take no more
        req = encode("PING", "h" * 1000)
        chunk = req * 64
        sent = 0
        hog_sock.setblocking(False)
        deadline = time.time() + 10
        blocked_since = None
        while time.time() < deadline and sent < 64 * 1024 * 1024:
            try:
                sent += hog_sock.send(chunk[sent % len(req):])
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.time()
                if time.time() - blocked_since > 0.3:
                    break
                time.sleep(0.01)
        self.assertIsNotNone(blocked_since, "the gateway read everything: no backpressure")
        self.assertGreater(sent, 2 * 1024 * 1024)
        # the others are served at once
        other = self.gw.terminal("POS-1", SECRET)
        t0 = time.time()
        for i in range(50):
            self.assertEqual(other.call("PING", str(i)), str(i))
        self.assertLess(time.time() - t0, 5)
        # the hog costs bounded memory in the gateway, far less than it sent
        row = conn_row(self.gw, hog)
        self.assertLessEqual(row["pipeline_peak"], 4)
        self.assertLess(row["buffer_bytes"], 512 * 1024)
        # when the hog finally reads, it gets every reply to every whole request it sent
        hog_sock.setblocking(True)
        hog_sock.settimeout(10)
        for _ in range(sent // len(req)):
            self.assertEqual(hog.read(), "h" * 1000)
        self.assertEqual(other.call("PING"), "PONG")


class IdleTimeoutTest(LimitsTestCase):
    sets = {"terminal.idle_timeout": "1s"}

    def test_idle_authenticated_connection_is_closed(self):
        c = self.gw.terminal("POS-1", SECRET)
        # activity keeps it open past the timeout
        for _ in range(3):
            time.sleep(0.5)
            self.assertEqual(c.call("PING"), "PONG")
        last = time.time()
        self.assertTrue(c.closed_by_server(wait=3))
        idle = time.time() - last
        self.assertGreaterEqual(idle, 0.95)
        self.assertLess(idle, 2.0)
        self.assertRegex(self.gw.log_text(), r"idle for \d+ ms; closing")
        self.assertEqual(self.gw.ctl("status")["authenticated_connections"], 0)

    def test_idle_unauthenticated_connection_is_closed(self):
        c = self.gw.client()
        opened = time.time()
        self.assertTrue(c.closed_by_server(wait=3))
        self.assertGreaterEqual(time.time() - opened, 0.95)


class SlowClientTest(LimitsTestCase):
    sets = {"terminal.request_timeout": "1s", "terminal.write_timeout": "1s",
            "terminal.send_buffer": "4k", "terminal.idle_timeout": "60s"}

    def test_a_request_sent_a_byte_at_a_time_is_cut_off(self):
        c = self.gw.terminal("POS-1", SECRET)
        frame = encode("PING", "x" * 200)
        started = time.time()
        closed = False
        for b in frame[:-1]:  # never the last byte
            try:
                c.send_raw(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.02)
            if time.time() - started > 4:
                break
        self.assertTrue(closed or c.closed_by_server(wait=3))
        self.assertLess(time.time() - started, 3.5)
        self.assertIn("request not complete within 1000 ms; closing", self.gw.log_text())
        # a whole request sent slowly but completed in time is served
        d = self.gw.terminal("POS-1", SECRET)
        ping = encode("PING", "ok")
        d.send_raw(ping[:5])
        time.sleep(0.5)
        d.send_raw(ping[5:])
        self.assertEqual(d.read(), "ok")

    def test_replies_left_unread_close_the_connection(self):
        c = self.gw.terminal("POS-1", SECRET)
        sock = c.sock
        sock.setblocking(False)
        req = encode("PING", "r" * 4000)
        sent, t0 = 0, time.time()
        while time.time() - t0 < 5:
            try:
                sent += sock.send(req)
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                break
        self.assertIn("replies unread for 1000 ms; closing", self.gw.log_text())
        other = self.gw.terminal("POS-1", SECRET)
        self.assertEqual(other.call("PING"), "PONG")


class AuthTimeoutTest(LimitsTestCase):
    sets = {"terminal.auth_timeout": "1500ms"}

    def test_unauthenticated_connection_is_closed_even_when_busy(self):
        opened = time.time()
        c = self.gw.client()
        authed = self.gw.terminal("POS-1", SECRET)
        # PINGs are activity, but they do not buy time to authenticate
        for _ in range(4):
            time.sleep(0.3)
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(authed.call("PING"), "PONG")
        self.assertTrue(c.closed_by_server(wait=3))
        age = time.time() - opened
        self.assertGreaterEqual(age, 1.45)
        self.assertLess(age, 2.5)
        self.assertIn("not authenticated within 1500 ms; closing", self.gw.log_text())
        # the authenticated one is still open
        self.assertEqual(authed.call("PING"), "PONG")
        self.assertEqual(self.gw.ctl("status")["terminal_connections"], 1)


class ConnectionCountTest(LimitsTestCase):
    sets = {"terminal.max_connections": "3"}

    def test_connection_over_the_limit_gets_busy(self):
        first = [self.gw.client() for _ in range(3)]
        for c in first:
            self.assertEqual(c.call("PING"), "PONG")
        extra = self.gw.client()
        self.assertRefusedAndClosed(extra, "BUSY", "too many connections; try again later")
        status = self.gw.ctl("status")
        self.assertEqual(status["terminal_connections"], 3)
        self.assertEqual(status["connections_refused_busy"], 1)
        # admin connections do not count against the terminal limit
        self.assertEqual(self.gw.admin().call("ping"), "PONG")
        for c in first:
            self.assertEqual(c.call("PING"), "PONG")
        # one leaves, and the next one is accepted
        first[0].close()
        self.assertTrue(wait_until(
            lambda: self.gw.ctl("status")["terminal_connections"] == 2))
        again = self.gw.terminal("POS-1", SECRET)
        self.assertIsInstance(again.call("TIME"), int)
        self.assertRefusedAndClosed(self.gw.client(), "BUSY",
                                    "too many connections; try again later")
        self.assertEqual(self.gw.ctl("status")["connections_refused_busy"], 2)


if __name__ == "__main__":
    unittest.main()
