"""The terminal port: PING, AUTH, QUIT, HEALTH, TIME, and the refusals R-S1 demands."""

import unittest

from harness import GatewayTest, RespError, wait_until, table_rows

SECRET = "pos-secret-0123456789"


class TerminalPortTest(GatewayTest):
    def setUp(self):
        super().setUp()
        self.gw.add_terminal("POS-1", "pos", SECRET)

    def test_ping_before_auth(self):
        c = self.gw.client()
        self.assertEqual(c.call("PING"), "PONG")
        self.assertEqual(c.call("ping", "hello 你好"), "hello 你好")
        self.assertError(c.call("PING", "a", "b"), "BAD_REQUEST")

    def test_other_verbs_before_auth_are_refused(self):
        c = self.gw.client()
        for verb in (["TIME"], ["HEALTH", "ok"], ["NO.SUCH.VERB"], ["PAY", "1"]):
            self.assertError(c.call(*verb), "NOAUTH")
        self.assertEqual(c.call("PING"), "PONG")  # the connection is still usable

    def test_auth_and_time(self):
        c = self.gw.terminal("POS-1", SECRET)
        t = c.call("TIME")
        self.assertIsInstance(t, int)
        self.assertGreater(t, 1_700_000_000_000)
        self.assertError(c.call("AUTH", "POS-1", SECRET), "BAD_REQUEST")  # once per connection

    def test_wrong_secret_unknown_terminal_and_bad_shapes(self):
        c = self.gw.client()
        r = c.call("AUTH", "POS-1", "wrong-secret")
        self.assertError(r, "NOAUTH")
        self.assertError(c.call("AUTH", "NOBODY", SECRET), "NOAUTH")
        # the same message for both: a probe cannot tell which part was wrong
        self.assertEqual(r.message, c.call("AUTH", "NOBODY", SECRET).message)
        c2 = self.gw.client()
        self.assertError(c2.call("AUTH", "only-one-arg"), "BAD_REQUEST")
        self.assertError(c2.call("AUTH", "POS-1\x00x", SECRET), "NOAUTH")

    def test_too_many_failed_auths_close_the_connection(self):
        c = self.gw.client()
        for _ in range(3):  # [terminal] max_auth_failures = 3 by default
            self.assertError(c.call("AUTH", "POS-1", "wrong"), "NOAUTH")
        self.assertTrue(c.closed_by_server())

    def test_unknown_verb_after_auth(self):
        c = self.gw.terminal("POS-1", SECRET)
        r = c.call("FLY", "away")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("FLY", r.message)
        self.assertError(c.call(""), "BAD_REQUEST")
        self.assertEqual(c.call("PING"), "PONG")

    def test_verb_of_another_terminal_type_is_forbidden(self):
        # CARD.PASSWD is for kiosks and CARD.INFO is not for gates: the type is checked before
        # the arguments, so even a malformed request gets FORBIDDEN.
        pos = self.gw.terminal("POS-1", SECRET)
        r = pos.call("CARD.PASSWD", "1", "04A1B2C3D4E5F6", "1", "1", "0", "00" * 8, "query",
                     "123456", "654321")
        self.assertError(r, "FORBIDDEN")
        self.assertIn("pos terminals", r.message)
        self.gw.add_terminal("GATE-1", "gate", "gate-secret-0123456789")
        gate = self.gw.terminal("GATE-1", "gate-secret-0123456789")
        self.assertError(gate.call("CARD.INFO", "1", "04A1B2C3D4E5F6", "1", "1", "0", "00" * 8),
                         "FORBIDDEN")
        self.assertError(gate.call("PAY", "1", "04A1B2C3D4E5F6", "1", "1", "100", "00" * 8),
                         "FORBIDDEN")
        # the same verbs are known: an unknown one is BAD_REQUEST, not FORBIDDEN
        self.assertError(gate.call("CARD.NOPE"), "BAD_REQUEST")
        self.assertEqual(gate.call("PING"), "PONG")

    def test_health_report_is_visible_to_administrators(self):
        c = self.gw.terminal("POS-1", SECRET)
        self.assertEqual(c.call("HEALTH", "fault", "printer jammed"), "OK")
        self.assertError(c.call("HEALTH", "on-fire"), "BAD_REQUEST")
        self.assertError(c.call("HEALTH", "ok", "x" * 500), "BAD_REQUEST")
        show = self.gw.ctl("terminal", "show", "POS-1")
        self.assertEqual(show["health"], "fault")
        self.assertEqual(show["health_detail"], "printer jammed")
        faulty = self.gw.ctl("terminal", "list", "--faulty")
        self.assertEqual([t["terminal"] for t in faulty], ["POS-1"])
        # the report is in the database, not only in memory
        self.assertEqual(self.gw.sql("SELECT health FROM terminals WHERE id='POS-1'"),
                         [("fault",)])

    def test_quit_closes_after_reply(self):
        c = self.gw.client()
        c.send_raw(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        self.assertEqual(c.read(), "OK")
        self.assertTrue(c.closed_by_server())
        self.assertEqual(c.buf, b"")  # the PING after QUIT was not answered

    def test_revoked_terminal_is_refused_and_disconnected(self):
        c = self.gw.terminal("POS-1", SECRET)
        self.gw.ctl("terminal", "revoke", "POS-1", "--reason", "stolen", "--approval", "IC-1")
        self.assertTrue(c.closed_by_server())
        r = self.gw.client().call("AUTH", "POS-1", SECRET)
        self.assertError(r, "NOAUTH")
        self.assertIn("revoked", r.message)
        # revocation is final
        p = self.gw.ctl("terminal", "enable", "POS-1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("REVOKED", p.stderr)

    def test_disabled_terminal_is_refused_until_enabled(self):
        c = self.gw.terminal("POS-1", SECRET)
        self.gw.ctl("terminal", "disable", "POS-1")
        self.assertTrue(c.closed_by_server())
        r = self.gw.client().call("AUTH", "POS-1", SECRET)
        self.assertError(r, "NOAUTH")
        self.assertIn("disabled", r.message)
        self.gw.ctl("terminal", "enable", "POS-1")
        self.gw.terminal("POS-1", SECRET)

    def test_rotated_secret(self):
        c = self.gw.terminal("POS-1", SECRET)
        new = self.gw.ctl("terminal", "rotate-secret", "POS-1")["secret"]
        self.assertRegex(new, r"^[0-9a-f]{32}$")
        self.assertTrue(c.closed_by_server())
        self.assertError(self.gw.client().call("AUTH", "POS-1", SECRET), "NOAUTH")
        self.gw.terminal("POS-1", new)

    def test_generated_secret_works_and_is_stored_hashed(self):
        secret = self.gw.add_terminal("GATE-1", "gate")
        self.assertRegex(secret, r"^[0-9a-f]{32}$")
        self.gw.terminal("GATE-1", secret)
        stored = self.gw.sql("SELECT secret_hash FROM terminals WHERE id='GATE-1'")[0][0]
        self.assertTrue(stored.startswith("pbkdf2-sha256$"))
        self.assertNotIn(secret, stored)

    def test_last_seen_and_connections_are_reported(self):
        c = self.gw.terminal("POS-1", SECRET)
        rows = self.gw.ctl("terminal", "list")
        self.assertEqual(rows[0]["connected"], 1)
        self.assertIsNotNone(rows[0]["last_seen"])
        status = self.gw.ctl("status", "--minutes", "5")
        self.assertEqual(status["terminals_seen_last_5m"], 1)
        self.assertEqual(status["authenticated_connections"], 1)
        # a terminal never heard from is "silent"
        self.gw.add_terminal("GATE-9", "gate")
        silent = self.gw.ctl("terminal", "list", "--silent", "5")
        self.assertEqual([t["terminal"] for t in silent], ["GATE-9"])

    def test_last_seen_is_flushed_to_the_database(self):
        self.gw.stop()
        self.gw.sets["terminal.last_seen_flush"] = "200ms"
        self.gw.start()
        self.gw.terminal("POS-1", SECRET).call("TIME")
        self.assertTrue(wait_until(lambda: self.gw.sql(
            "SELECT last_seen FROM terminals WHERE id='POS-1'")[0][0] is not None))


if __name__ == "__main__":
    unittest.main()
