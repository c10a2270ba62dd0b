"""End-to-end test harness: starts the real yktd on a free port with a temporary database,
speaks RESP to it over TCP (or its admin socket), and runs yktctl.

Binaries come from YKT_BUILD_DIR (set by ctest); the source tree from YKT_SOURCE_DIR.
Python standard library only.
"""

import ast
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get(
    "YKT_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("YKT_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "test"))
YKTD = os.path.join(BUILD_DIR, "core", "yktd")
YKTCTL = os.path.join(BUILD_DIR, "tools", "yktctl", "yktctl")
DEMO_CONF = os.path.join(SOURCE_DIR, "conf", "ykt.ini")
# The card master key of every test gateway (cards' keys are diversified from it).
MASTER_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def write_master_key(path, key=MASTER_KEY):
    """Writes a key file as yktd wants it: 32 hex digits, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    os.chmod(path, 0o600)
    return path


_demo_dir = None


def prc_id(first17):
    """A PRC resident ID number: 17 digits (region, birth date YYYYMMDD, sequence) and the
    ISO 7064 MOD 11-2 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


def demo_cwd():
    """A working directory in which conf/ykt.ini's relative paths resolve: it holds
    var/demo-master.key, as `make run` creates it, scripts/ (the rules) and
    build/release/plugins (this build's plugins). For `yktd --check-config` runs."""
    global _demo_dir
    if _demo_dir is None:
        _demo_dir = tempfile.mkdtemp(prefix="ykt-democwd-")
        os.mkdir(os.path.join(_demo_dir, "var"))
        write_master_key(os.path.join(_demo_dir, "var", "demo-master.key"))
        os.symlink(os.path.join(SOURCE_DIR, "scripts"), os.path.join(_demo_dir, "scripts"))
        os.makedirs(os.path.join(_demo_dir, "build", "release"))
        os.symlink(os.path.join(BUILD_DIR, "plugins"),
                   os.path.join(_demo_dir, "build", "release", "plugins"))
    return _demo_dir


class RespError(Exception):
    """An error reply: .code is the stable upper-case word, .message the rest."""

    def __init__(self, line):
        super().__init__(line)
        self.line = line
        self.code, _, self.message = line.partition(" ")


class ConnectionClosed(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespClient:
    """A blocking RESP2 client over any connected socket (TCP, TLS-wrapped, Unix)."""

    def __init__(self, sock, timeout=10):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    @classmethod
    def tcp(cls, port, host="127.0.0.1", timeout=10):
        return cls(socket.create_connection((host, port), timeout=timeout), timeout)

    @classmethod
    def unix(cls, path, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return cls(s, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read(self):
        """Reads one reply; error replies are returned as RespError instances."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise AssertionError("malformed reply line %r" % line)

    def call(self, *args):
        self.send_raw(encode(*args))
        return self.read()

    def ok(self, *args):
        """Calls and raises if the reply is an error."""
        r = self.call(*args)
        if isinstance(r, RespError):
            raise r
        return r

    def closed_by_server(self, wait=5.0):
        """True when the server closes the connection within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True


def table_rows(reply):
    """Turns a TABLE/RECORD admin reply into a list of dicts."""
    assert isinstance(reply, list) and reply[0] in ("TABLE", "RECORD"), reply
    cols = reply[1]
    return [dict(zip(cols, row)) for row in reply[2:]]


class Gateway:
    """A running yktd with its own temporary directory."""

    def __init__(self, sets=None, conf=DEMO_CONF, workdir=None, start=True, env=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="ykt-e2e-")
        self.db = os.path.join(self.dir, "ykt.db")
        self.socket = os.path.join(self.dir, "yktd.sock")
        self.log_path = os.path.join(self.dir, "yktd.log")
        self.conf = conf
        self.master_key = write_master_key(os.path.join(self.dir, "master.key"))
        self.sets = {
            "storage.path": self.db,
            "admin.socket": self.socket,
            "terminal.listen": "127.0.0.1:0",
            "log.level": "debug",
            "cards.master_key": self.master_key,
            "rules.dir": os.path.join(SOURCE_DIR, "scripts"),
            "plugins.dir": os.path.join(BUILD_DIR, "plugins"),
        }
        self.sets.update(sets or {})
        self.env = dict(env or {})  # yktd's own, e.g. YKT_TEST_CLOCK_OFFSET_MS
        self.proc = None
        self.port = None
        self.clients = []
        if start:
            self.start()

    def command(self):
        cmd = [YKTD, "-c", self.conf]
        for k, v in self.sets.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        return cmd

    def start(self, timeout=15):
        self.log = open(self.log_path, "ab")
        self.log_offset = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log,
                                     cwd=self.dir, env={**os.environ, **self.env})
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_text()
            m = re.search(r"ready: terminal port [^ ]*:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise AssertionError("yktd exited with %s:\n%s" % (self.proc.returncode, text))
            time.sleep(0.02)
        raise AssertionError("yktd did not become ready:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops yktd and returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("yktd did not stop within %ss:\n%s" % (timeout, self.log_text()))
        finally:
            self.log.close()
        self.proc = None
        return rc

    def cleanup(self):
        for c in self.clients:
            c.close()
        if self.proc is not None:
            rc = self.stop()
            if rc != 0:
                raise AssertionError("yktd exited %s:\n%s" % (rc, self.log_text()[-4000:]))
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- clients ----

    def client(self, timeout=10):
        c = RespClient.tcp(self.port, timeout=timeout)
        self.clients.append(c)  # closed at cleanup, so tests may drop their references
        return c

    def terminal(self, tid, secret):
        c = self.client()
        r = c.call("AUTH", tid, secret)
        if r != "OK":
            raise AssertionError("AUTH %s failed: %r" % (tid, r))
        return c

    def admin(self):
        c = RespClient.unix(self.socket)
        self.clients.append(c)
        return c

    def ctl(self, *args, user=None, password=None, check=True, json_out=True):
        """Runs yktctl; returns parsed JSON (or text). Raises unless check=False."""
        cmd = [YKTCTL, "-s", self.socket]
        if json_out:
            cmd.append("--json")
        env = dict(os.environ)
        env.pop("YKTCTL_USER", None)
        env.pop("YKTCTL_PASSWORD", None)
        if user:
            cmd += ["-u", user]
            env["YKTCTL_PASSWORD"] = password or ""
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("yktctl %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                                p.stderr))
        if not check:
            return p
        return json.loads(p.stdout) if json_out and p.stdout.strip() else p.stdout

    def data_file(self, data):
        """Writes data (str as UTF-8, or bytes) to a new file in the gateway's directory and
        returns its path: yktctl sends a file's bytes for imports and statements."""
        self._files = getattr(self, "_files", 0) + 1
        path = os.path.join(self.dir, "data-%d.csv" % self._files)
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    def add_terminal(self, tid, ttype, secret=None):
        args = ["terminal", "add", tid, "--type", ttype]
        if secret:
            args += ["--secret", secret]
        rec = self.ctl(*args)
        return secret or rec["secret"]

    def add_operator(self, name, role, department=None, password="operator-pass-1"):
        """Creates an operator and sets its password (so it can act at once)."""
        args = ["operator", "add", name, "--role", role]
        if department:
            args += ["--department", department]
        initial = self.ctl(*args)["initial_password"]
        self.ctl("passwd", initial, password, user=name, password=initial)
        return password

    def sql_write(self, query, *params):
        """Changes the database beside the running gateway (WAL allows it between its
        batches). For tests that must move data into the past."""
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                return con.execute(query, params).rowcount
        finally:
            con.close()

    def sql(self, query, *params):
        """Reads the database directly (a second reader beside WAL)."""
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()


class GatewayTest(unittest.TestCase):
    """A test case with a fresh gateway per test (self.gw)."""

    sets = None
    env = None  # added to yktd's environment

    def setUp(self):
        self.gw = Gateway(sets=self.sets, env=self.env)
        self.addCleanup(self.gw.cleanup)

    def assertError(self, reply, code):
        self.assertIsInstance(reply, RespError, "expected -%s, got %r" % (code, reply))
        self.assertEqual(reply.code, code, reply.line)


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def migrations_text():
    """core/src/store/migrations.c's migrations, as SQL text, in order."""
    with open(os.path.join(SOURCE_DIR, "core", "src", "store", "migrations.c"), encoding="utf-8") as f:
        src = f.read()
    body = src[src.index("ykt_migrations[] = {") + len("ykt_migrations[] = {"):src.rindex("};")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    migs, cur = [], []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(,)', body):
        if m.group(2):
            migs.append("".join(cur))
            cur = []
        else:
            cur.append(ast.literal_eval('"' + m.group(1) + '"'))
    if "".join(cur).strip():
        migs.append("".join(cur))
    return migs
