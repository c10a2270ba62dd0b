"""TLS on the terminal port, end to end: certificates made with the openssl CLI, the real yktd
serving them through mbedTLS, and three independent clients (openssl s_client, redis-cli,
Python's ssl module). Also the refusals (plain text, garbage, stalled handshakes, client
certificates from the wrong CA), the client-certificate-to-terminal binding, `yktd
--check-config` on broken TLS material, and conf/ykt.production.ini.

Every gateway is stopped at cleanup and must exit 0 (harness.Gateway.cleanup checks it).
"""

import configparser
import os
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Gateway, RespClient, RespError, encode, wait_until

OPENSSL = shutil.which("openssl")
REDIS_CLI = shutil.which("redis-cli")
PRODUCTION_CONF = os.path.join(harness.SOURCE_DIR, "conf", "ykt.production.ini")

TERMINAL = "POS-TLS-1"  # the CN of the good client certificate
OTHER_TERMINAL = "POS-TLS-2"  # registered, but no certificate carries its name
SECRET = "tls-secret-0123456789"
OTHER_SECRET = "tls-secret-9876543210"

EC_KEY = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
RSA_KEY = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]


def run_openssl(*args, cwd):
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


class Pki:
    """CA, server and client certificates in a fresh directory. Paths are attributes."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ykt-tls-")
        d = self.dir
        # Two independent CAs: ours, and one the gateway must not trust.
        self.ca, self.ca_key = self._ca("ca", "ykt Test Terminal CA")
        self.other_ca, self.other_ca_key = self._ca("other-ca", "Some Other CA")
        # The gateway's certificates (EC P-256, and RSA 2048 to show both work with mbedTLS).
        server_ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                      "keyEncipherment\nextendedKeyUsage=serverAuth\n"
                      "subjectAltName=IP:127.0.0.1\n")
        self.server, self.server_key = self._leaf("server", "localhost", server_ext, self.ca,
                                                  self.ca_key, EC_KEY)
        self.server_rsa, self.server_rsa_key = self._leaf("server-rsa", "localhost", server_ext,
                                                          self.ca, self.ca_key, RSA_KEY)
        client_ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                      "extendedKeyUsage=clientAuth\n")
        self.client, self.client_key = self._leaf("client", TERMINAL, client_ext, self.ca,
                                                  self.ca_key, EC_KEY)
        # Same CN as the good client, signed by the other CA: the name alone proves nothing.
        self.rogue, self.rogue_key = self._leaf("rogue-client", TERMINAL, client_ext,
                                                self.other_ca, self.other_ca_key, EC_KEY)
        # A well-formed key that belongs to no certificate here.
        self.wrong_key = self._key("wrong.key", EC_KEY)
        self.garbage = os.path.join(d, "garbage.pem")
        with open(self.garbage, "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nthis is not base64!!\n"
                    b"-----END CERTIFICATE-----\n" + bytes(range(256)))

    def _key(self, name, algo):
        path = os.path.join(self.dir, name)
        run_openssl("genpkey", *algo, "-out", path, cwd=self.dir)
        os.chmod(path, 0o600)
        return path

    def _ca(self, name, cn):
        key = self._key(name + ".key", EC_KEY)
        pem = os.path.join(self.dir, name + ".pem")
        run_openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "2",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", pem, cwd=self.dir)
        return pem, key

    def _leaf(self, name, cn, ext, ca, ca_key, algo):
        key = self._key(name + ".key", algo)
        csr = os.path.join(self.dir, name + ".csr")
        extfile = os.path.join(self.dir, name + ".ext")
        pem = os.path.join(self.dir, name + ".pem")
        with open(extfile, "w") as f:
            f.write(ext)
        run_openssl("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr, cwd=self.dir)
        run_openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial",
                    str(int.from_bytes(os.urandom(8), "big")), "-days", "2", "-extfile", extfile,
                    "-out", pem, cwd=self.dir)
        return pem, key

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(OPENSSL, "the openssl command is needed to make certificates")
class TlsTestBase(unittest.TestCase):
    """Makes a PKI per class; start_gateway() runs a TLS yktd stopped at cleanup."""

    sets = {}

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.remove()

    def start_gateway(self, cert=None, key=None, **extra):
        sets = {"tls.enabled": "yes", "tls.cert": cert or self.pki.server,
                "tls.key": key or self.pki.server_key}
        sets.update(self.sets)
        sets.update(extra)
        gw = Gateway(sets=sets)
        self.addCleanup(gw.cleanup)
        self.assertIn("(TLS)", gw.log_text())
        gw.add_terminal(TERMINAL, "pos", SECRET)
        gw.add_terminal(OTHER_TERMINAL, "pos", OTHER_SECRET)
        return gw

    def context(self, cert=None, key=None, cafile=None):
        """A client context that verifies the gateway (and its IP SAN) against our CA."""
        ctx = ssl.create_default_context(cafile=cafile or self.pki.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def tls_client(self, gw, ctx=None, timeout=10):
        raw = socket.create_connection(("127.0.0.1", gw.port), timeout=timeout)
        try:
            sock = (ctx or self.context()).wrap_socket(raw, server_hostname="127.0.0.1")
        except BaseException:
            raw.close()
            raise
        c = RespClient(sock, timeout)
        gw.clients.append(c)
        return c

    def assert_handshake_refused(self, gw, ctx):
        """The handshake (TLS 1.2: the server's verdict comes before its Finished) fails."""
        raw = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        try:
            with self.assertRaises((ssl.SSLError, ConnectionResetError)) as cm:
                ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            return cm.exception
        finally:
            raw.close()

    def assert_still_serves(self, gw):
        c = self.tls_client(gw)
        self.assertEqual(c.call("PING"), "PONG")
        c.close()

    def assertError(self, reply, code):
        self.assertIsInstance(reply, RespError, "expected -%s, got %r" % (code, reply))
        self.assertEqual(reply.code, code, reply.line)


def read_until_closed(sock, timeout=5.0):
    """Everything the peer sends until it closes; raises if it stays open past timeout."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except (socket.timeout, TimeoutError):
            break
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the gateway did not close the connection within %ss (got %r)"
                         % (timeout, data))


class TlsTerminalPortTest(TlsTestBase):
    """verify_client = none: server authentication only."""

    def setUp(self):
        self.gw = self.start_gateway()

    def s_client(self, cafile, request, expect, extra=()):
        """Runs openssl s_client, writes request, waits for `expect` on its stdout, then
        closes stdin (-no_ign_eof: s_client sends close_notify and exits). Returns
        (exit status, stdout, stderr)."""
        cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.gw.port, "-CAfile", cafile,
               "-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet", "-no_ign_eof"]
        errf = tempfile.TemporaryFile()
        self.addCleanup(errf.close)
        p = subprocess.Popen(cmd + list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=errf)
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        out = b""

        def read_stdout(until, deadline):
            nonlocal out
            while not until() and time.time() < deadline:
                if not sel.select(max(0, deadline - time.time())):
                    break
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    return True  # s_client exited or closed its output
                out += chunk
            return False

        try:
            try:
                p.stdin.write(request)
                p.stdin.flush()
            except BrokenPipeError:
                pass  # s_client already gave up (failed handshake)
            eof = read_stdout(lambda: expect in out, time.time() + 10)
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
            if not eof:
                read_stdout(lambda: False, time.time() + 10)
            rc = p.wait(10)
        finally:
            sel.close()
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        errf.seek(0)
        err = errf.read()
        return rc, out, err.decode("utf-8", "replace")

    def test_openssl_s_client_verifies_the_gateway_and_gets_pong(self):
        request = b"PING\r\n" + encode("PING", "over tls")
        rc, out, err = self.s_client(self.pki.ca, request, b"over tls\r\n")
        self.assertEqual(out, b"+PONG\r\n$8\r\nover tls\r\n", err)
        self.assertEqual(rc, 0, err)
        self.assertIn("verify return:1", err)
        self.assertNotIn("verify error", err)

    def test_openssl_s_client_refuses_a_gateway_it_cannot_verify(self):
        rc, out, err = self.s_client(self.pki.other_ca, b"PING\r\n", b"PONG")
        self.assertNotEqual(rc, 0)
        self.assertNotIn(b"PONG", out)
        self.assertIn("verify error", err)
        self.assert_still_serves(self.gw)

    @unittest.skipUnless(REDIS_CLI, "redis-cli is not installed")
    def test_redis_cli(self):
        base = [REDIS_CLI, "--tls", "--cacert", self.pki.ca, "-h", "127.0.0.1",
                "-p", str(self.gw.port)]

        def run(*args, base=base):
            p = subprocess.run(base + list(args), capture_output=True, text=True, timeout=20)
            return p.returncode, p.stdout + p.stderr

        rc, out = run("PING")
        self.assertEqual((rc, out.strip()), (0, "PONG"))
        rc, out = run("--no-auth-warning", "--user", TERMINAL, "--pass", SECRET, "TIME")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out.strip(), r"^\d{13}$")  # epoch milliseconds
        rc, out = run("--no-auth-warning", "--user", TERMINAL, "--pass", "not-the-secret", "TIME")
        self.assertIn("NOAUTH", out)
        self.assertNotRegex(out, r"\d{13}")
        # redis-cli checks the gateway's certificate too
        p = subprocess.run([REDIS_CLI, "--tls", "--cacert", self.pki.other_ca, "-h", "127.0.0.1",
                            "-p", str(self.gw.port), "PING"],
                           capture_output=True, text=True, timeout=20)
        self.assertNotIn("PONG", p.stdout)

    def test_python_ssl_client_auth_and_time(self):
        c = self.tls_client(self.gw)
        self.assertEqual(c.sock.version(), "TLSv1.2")  # mbedTLS 2.28 serves TLS 1.2
        self.assertError(c.call("TIME"), "NOAUTH")
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        t = c.call("TIME")
        self.assertIsInstance(t, int)
        self.assertLess(abs(t - time.time() * 1000), 60_000)
        self.assertEqual(c.call("HEALTH", "ok"), "OK")
        conns = [r for r in self.gw.ctl("conn", "list") if r["kind"] == "terminal"]
        self.assertEqual([(r["who"], r["tls"]) for r in conns], [(TERMINAL, "yes")])
        self.assertEqual(self.gw.ctl("status")["tls"], "on")

    def test_without_client_certificate_any_terminal_may_auth(self):
        c = self.tls_client(self.gw)
        self.assertEqual(c.call("AUTH", OTHER_TERMINAL, OTHER_SECRET), "OK")
        self.assertError(self.tls_client(self.gw).call("AUTH", TERMINAL, "wrong"), "NOAUTH")

    def test_large_requests_and_pipelines_span_many_records(self):
        c = self.tls_client(self.gw)
        big = "x" * 200_000  # a TLS record carries at most 16 KiB
        self.assertEqual(c.call("PING", big), big)
        c.send_raw(b"".join(encode("PING", str(i)) for i in range(100)))
        self.assertEqual([c.read() for _ in range(100)], [str(i) for i in range(100)])

    def test_handshake_and_requests_fed_one_byte_at_a_time(self):
        raw = socket.create_connection(("127.0.0.1", self.gw.port), timeout=10)
        self.addCleanup(raw.close)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")

        def drip():
            for b in outgoing.read():
                raw.sendall(bytes([b]))
                time.sleep(0.0005)

        def pump(step):
            for _ in range(1000):
                try:
                    return step()
                except ssl.SSLWantReadError:
                    drip()
                    chunk = raw.recv(65536)
                    if not chunk:
                        raise AssertionError("the gateway closed the connection")
                    incoming.write(chunk)
            raise AssertionError("no progress")

        pump(tls.do_handshake)
        drip()
        tls.write(encode("PING", "drip"))
        drip()
        self.assertEqual(pump(lambda: tls.read(100)), b"$4\r\ndrip\r\n")

    # When the gateway ends a session (QUIT, too many failed AUTHs, timeouts, shutdown) it
    # sends close_notify first, so OpenSSL 3 clients see a clean end, not a truncation.
    def test_gateway_ends_sessions_with_close_notify(self):
        raw = socket.create_connection(("127.0.0.1", self.gw.port), timeout=10)
        sock = self.context().wrap_socket(raw, server_hostname="127.0.0.1",
                                          suppress_ragged_eofs=False)
        self.addCleanup(sock.close)
        c = RespClient(sock)
        self.assertEqual(c.call("QUIT"), "OK")
        try:
            self.assertEqual(sock.recv(100), b"")  # b"" only after a close_notify
        except ssl.SSLEOFError as e:
            self.fail("no close_notify before the gateway closed the connection: %s" % e)

    def test_plain_text_client_is_told_tls_required_and_closed(self):
        for request in (encode("PING"), b"PING\r\n", encode("AUTH", TERMINAL, SECRET)):
            with self.subTest(request=request):
                s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=10)
                try:
                    s.sendall(request)
                    data = read_until_closed(s)
                finally:
                    s.close()
                self.assertTrue(data.startswith(b"-TLS_REQUIRED "), data)
                self.assertTrue(data.endswith(b"\r\n"), data)
                self.assertEqual(data.count(b"\r\n"), 1, data)
        self.assertIn("plain-text client on the TLS port", self.gw.log_text())
        c = self.tls_client(self.gw)
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        self.assertIsInstance(c.call("TIME"), int)

    def test_garbage_that_looks_like_tls_is_closed(self):
        garbage = [
            b"\x16\x03\x01\x00\x05hello",  # a handshake record holding nonsense
            b"\x16\x03\x03\x00\x04\x01\x00\x00\x00",  # an empty ClientHello
            b"\x16\x03\x01\xff\xff" + b"A" * 200,  # a record longer than TLS allows
            b"\x16" + bytes(range(256)) * 4,
        ]
        for g in garbage:
            with self.subTest(garbage=g[:12]):
                s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=10)
                try:
                    s.sendall(g)
                    data = read_until_closed(s)
                finally:
                    s.close()
                self.assertNotIn(b"\r\n", data)  # no RESP in the clear, at most a TLS alert
        self.assertIn("TLS handshake failed", self.gw.log_text())
        self.assert_still_serves(self.gw)
        self.assertEqual(self.gw.ctl("status")["terminal_connections"], 0)


class TlsStallAndRsaTest(TlsTestBase):
    def test_stalled_handshake_is_closed_by_auth_timeout(self):
        gw = self.start_gateway(**{"terminal.auth_timeout": "500ms"})
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        try:
            s.sendall(b"\x16\x03\x01\x02\x00" + b"\x01" * 10)  # promises 512 bytes, sends 10
            start = time.time()
            read_until_closed(s, timeout=5)
            self.assertLess(time.time() - start, 3)
        finally:
            s.close()
        self.assertIn("not authenticated within", gw.log_text())
        self.assert_still_serves(gw)

    def test_rsa_server_certificate(self):
        gw = self.start_gateway(cert=self.pki.server_rsa, key=self.pki.server_rsa_key)
        c = self.tls_client(gw)
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        self.assertIsInstance(c.call("TIME"), int)
        self.assertIn("RSA", c.sock.cipher()[0])


class TlsClientCertRequiredTest(TlsTestBase):
    def setUp(self):
        self.gw = self.start_gateway(**{"tls.ca": self.pki.ca, "tls.verify_client": "required"})

    def test_no_client_certificate_fails_the_handshake(self):
        err = self.assert_handshake_refused(self.gw, self.context())
        self.assertIn("TLS handshake failed", self.gw.log_text())
        # with a reason: a fatal alert, not a connection that just ends
        self.assertIn("HANDSHAKE_FAILURE", str(err))

    def test_no_client_certificate_gets_a_fatal_alert(self):
        """mbedTLS sends no alert of its own when a required certificate is missing; the
        gateway sends handshake_failure (RFC 5246, 7.4.6) before it closes, so openssl
        s_client (and redis-cli) say why instead of 'unexpected eof'."""
        p = subprocess.run(
            [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.gw.port, "-CAfile",
             self.pki.ca, "-msg"], input=encode("PING"), capture_output=True, timeout=20)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(out, r"<<< TLS 1\.2, Alert \[length 0002\], fatal handshake_failure",
                         out[-2000:])
        self.assertIn("alert handshake failure", err)
        self.assertNotIn("unexpected eof", err)
        self.assertNotIn(b"PONG", p.stdout)
        # one alert: the gateway's own is not sent on top of one mbedTLS sent (unknown_ca)
        p = subprocess.run(
            [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.gw.port, "-CAfile",
             self.pki.ca, "-cert", self.pki.rogue, "-key", self.pki.rogue_key, "-msg"],
            input=encode("PING"), capture_output=True, timeout=20)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(re.findall(r"<<< TLS 1\.2, Alert \[length 0002\], fatal (\w+)", out),
                         ["unknown_ca"], out[-2000:])

    def test_good_client_certificate(self):
        c = self.tls_client(self.gw, self.context(self.pki.client, self.pki.client_key))
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        self.assertIsInstance(c.call("TIME"), int)
        # the certificate does not replace the secret
        c2 = self.tls_client(self.gw, self.context(self.pki.client, self.pki.client_key))
        self.assertError(c2.call("AUTH", TERMINAL, "wrong"), "NOAUTH")

    def test_client_certificate_from_another_ca_fails_the_handshake(self):
        self.assert_handshake_refused(self.gw, self.context(self.pki.rogue, self.pki.rogue_key))
        # and the gateway goes on serving good clients
        c = self.tls_client(self.gw, self.context(self.pki.client, self.pki.client_key))
        self.assertEqual(c.call("PING"), "PONG")

    def test_openssl_s_client_with_and_without_certificate(self):
        def s_client(*extra):
            return subprocess.run(
                [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.gw.port, "-CAfile",
                 self.pki.ca, "-verify_return_error", "-quiet", "-ign_eof"] + list(extra),
                input=encode("PING") + encode("QUIT"), capture_output=True, timeout=20)

        p = s_client("-cert", self.pki.client, "-key", self.pki.client_key)
        self.assertTrue(p.stdout.startswith(b"+PONG\r\n+OK\r\n"), p.stdout + p.stderr)
        p = s_client()
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn(b"PONG", p.stdout)


class TlsClientCertOptionalTest(TlsTestBase):
    sets = {"tls.verify_client": "optional"}

    def setUp(self):
        self.gw = self.start_gateway(**{"tls.ca": self.pki.ca})

    def test_no_client_certificate_is_accepted(self):
        c = self.tls_client(self.gw)
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        self.assertIsInstance(c.call("TIME"), int)

    def test_good_client_certificate_is_accepted(self):
        c = self.tls_client(self.gw, self.context(self.pki.client, self.pki.client_key))
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")

    def test_client_certificate_from_another_ca_is_refused(self):
        ctx = self.context(self.pki.rogue, self.pki.rogue_key)
        # mbedTLS finishes an "optional" handshake; the gateway then drops the connection
        # before any request is read. Either way no request may be answered.
        refused = False
        try:
            c = self.tls_client(self.gw, ctx)
            r = c.call("PING")
            self.fail("a request was answered over a refused certificate: %r" % r)
        except (ssl.SSLError, ConnectionError, harness.ConnectionClosed):
            refused = True
        self.assertTrue(refused)
        # the alert reaches the client before yktd's log line is written
        self.assertTrue(wait_until(lambda: "client certificate failed verification"
                                   in self.gw.log_text()), self.gw.log_text())
        self.assert_still_serves(self.gw)


class TlsClientCnIsTerminalTest(TlsTestBase):
    sets = {"tls.verify_client": "required", "tls.client_cn_is_terminal": "yes"}

    def setUp(self):
        self.gw = self.start_gateway(**{"tls.ca": self.pki.ca})

    def good(self):
        return self.tls_client(self.gw, self.context(self.pki.client, self.pki.client_key))

    def test_auth_as_the_terminal_named_by_the_certificate(self):
        c = self.good()
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")
        self.assertIsInstance(c.call("TIME"), int)

    def test_auth_as_another_terminal_is_refused(self):
        c = self.good()
        r = c.call("AUTH", OTHER_TERMINAL, OTHER_SECRET)  # right secret, wrong certificate
        self.assertError(r, "NOAUTH")
        self.assertIn("certificate", r.message)
        self.assertError(c.call("TIME"), "NOAUTH")
        self.assertIn("client certificate CN mismatch", self.gw.log_text())
        # the same connection may still authenticate as its own terminal
        self.assertEqual(c.call("AUTH", TERMINAL, SECRET), "OK")

    def test_the_secret_is_still_checked(self):
        self.assertError(self.good().call("AUTH", TERMINAL, OTHER_SECRET), "NOAUTH")

    def test_certificate_with_the_right_cn_from_another_ca_is_refused(self):
        self.assert_handshake_refused(self.gw, self.context(self.pki.rogue, self.pki.rogue_key))
        self.assertEqual(self.good().call("AUTH", TERMINAL, SECRET), "OK")


class TlsCheckConfigTest(TlsTestBase):
    """`yktd --check-config` loads the TLS material and names the file at fault."""

    def check(self, conf=harness.DEMO_CONF, tls_enabled=True, **sets):
        cmd = [harness.YKTD, "--check-config", conf]
        if tls_enabled:
            sets = dict({"tls.enabled": "yes", "tls.cert": self.pki.server,
                         "tls.key": self.pki.server_key}, **sets)
        for k, v in sets.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           cwd=harness.demo_cwd())
        return p.returncode, p.stdout, p.stderr

    def assert_refused(self, result, *needles):
        rc, out, err = result
        self.assertNotEqual(rc, 0, out + err)
        self.assertNotIn("configuration OK", out)
        for n in needles:
            self.assertIn(n, err)

    def test_good_configurations_pass(self):
        for sets in ({}, {"tls.ca": self.pki.ca, "tls.verify_client": "optional"},
                     {"tls.ca": self.pki.ca, "tls.verify_client": "required",
                      "tls.client_cn_is_terminal": "yes"},
                     {"tls.cert": self.pki.server_rsa, "tls.key": self.pki.server_rsa_key}):
            with self.subTest(sets=sets):
                rc, out, err = self.check(**sets)
                self.assertEqual(rc, 0, err)
                self.assertIn("configuration OK", out)
                self.assertNotIn("readable by group", err)

    def test_missing_cert_file(self):
        missing = os.path.join(self.pki.dir, "no-such-cert.pem")
        self.assert_refused(self.check(**{"tls.cert": missing}), missing, "[tls] cert")

    def test_missing_key_file(self):
        missing = os.path.join(self.pki.dir, "no-such.key")
        self.assert_refused(self.check(**{"tls.key": missing}), missing, "[tls] key")

    def test_garbage_cert_file(self):
        self.assert_refused(self.check(**{"tls.cert": self.pki.garbage}), self.pki.garbage,
                            "[tls] cert")

    def test_garbage_key_file(self):
        self.assert_refused(self.check(**{"tls.key": self.pki.garbage}), self.pki.garbage,
                            "[tls] key")

    def test_garbage_ca_file(self):
        self.assert_refused(self.check(**{"tls.ca": self.pki.garbage,
                                          "tls.verify_client": "required"}),
                            self.pki.garbage, "[tls] ca")

    def test_key_that_does_not_match_the_cert(self):
        for key in (self.pki.wrong_key, self.pki.server_rsa_key):  # same type; other type
            with self.subTest(key=key):
                self.assert_refused(self.check(**{"tls.key": key}), key, self.pki.server,
                                    "does not match")

    def test_a_gateway_with_a_mismatched_key_does_not_start(self):
        gw = Gateway(sets={"tls.enabled": "yes", "tls.cert": self.pki.server,
                           "tls.key": self.pki.wrong_key}, start=False)
        self.addCleanup(gw.cleanup)
        with self.assertRaises(AssertionError) as cm:
            gw.start()
        self.assertIn("does not match", str(cm.exception))
        self.assertNotEqual(gw.proc.wait(10), 0)
        gw.proc = None
        gw.log.close()

    def test_client_cn_is_terminal_needs_verify_client_required(self):
        for verify in ("none", "optional"):
            with self.subTest(verify=verify):
                self.assert_refused(
                    self.check(**{"tls.ca": self.pki.ca, "tls.verify_client": verify,
                                  "tls.client_cn_is_terminal": "yes"}),
                    harness.DEMO_CONF, "client_cn_is_terminal", "verify_client = required")

    def test_verify_client_needs_a_ca(self):
        self.assert_refused(self.check(**{"tls.verify_client": "required"}), "[tls] ca")

    def test_world_readable_key_is_warned_about(self):
        loose = os.path.join(self.pki.dir, "loose.key")
        shutil.copy(self.pki.server_key, loose)
        os.chmod(loose, 0o644)
        rc, out, err = self.check(**{"tls.key": loose})
        self.assertEqual(rc, 0, err)
        self.assertIn("readable by group or others", err)

    def test_production_sample_parses(self):
        self.assertTrue(os.path.exists(PRODUCTION_CONF), PRODUCTION_CONF)
        key = harness.write_master_key(os.path.join(self.pki.dir, "master.key"))
        rc, out, err = self.check(PRODUCTION_CONF, tls_enabled=False, **{
            "tls.cert": self.pki.server, "tls.key": self.pki.server_key, "tls.ca": self.pki.ca,
            "cards.master_key": key})
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out)
        # without the override the sample names /etc/ykt/master.key, and a missing key file
        # is a configuration error, not a surprise at start-up
        rc, out, err = self.check(PRODUCTION_CONF, tls_enabled=False, **{
            "tls.cert": self.pki.server, "tls.key": self.pki.server_key, "tls.ca": self.pki.ca})
        self.assertNotEqual(rc, 0)
        self.assertIn("master.key", err)

    def test_production_sample_turns_tls_on(self):
        ini = configparser.ConfigParser(interpolation=None)
        with open(PRODUCTION_CONF, encoding="utf-8") as f:
            ini.read_file(f)
        self.assertEqual(ini["tls"]["enabled"], "yes")
        self.assertEqual(ini["tls"]["verify_client"], "required")
        self.assertEqual(ini["tls"]["client_cn_is_terminal"], "yes")
        for k in ("cert", "key", "ca"):
            self.assertTrue(ini["tls"][k].startswith("/etc/ykt/tls/"), ini["tls"][k])
        self.assertEqual(ini["terminal"]["listen"], "0.0.0.0:7070")
        self.assertEqual(ini["admin"]["socket"], "/run/ykt/yktd.sock")
        self.assertEqual(ini["storage"]["path"], "/var/lib/ykt/ykt.db")
        self.assertEqual(ini["log"]["file"], "/var/log/ykt/yktd.log")
        # Unless this machine has the real files, the unmodified sample must fail on them:
        # proof that --check-config reads the TLS paths from the file.
        if not os.path.exists(ini["tls"]["cert"]):
            self.assert_refused(self.check(PRODUCTION_CONF, tls_enabled=False),
                                ini["tls"]["cert"])


if __name__ == "__main__":
    unittest.main()
