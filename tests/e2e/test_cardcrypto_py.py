"""The pure-Python card cryptography (ykt_cards.py) against the published test vectors, and
against the C implementation through ykt-cardsim: two independent implementations of
docs/card-crypto.md must produce the same cryptograms, byte for byte.

The swipe tests run ykt-cardsim against a small fake gateway in this file (it answers AUTH
and records what it is sent), so they check the terminal side — arguments, state files,
exit codes, the deliberate misbehaviours — without depending on the gateway's card verbs.
"""

import json
import os
import random
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import unittest

import ykt_cards as yc
from harness import BUILD_DIR, SOURCE_DIR

CARDSIM = os.path.join(BUILD_DIR, "tools", "cardsim", "ykt-cardsim")

H = bytes.fromhex
NIST_KEY = H("2b7e151628aed2a6abf7158809cf4f3c")
NIST_MSG = H("6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710")
AN_MASTER = H("00112233445566778899AABBCCDDEEFF")
AN_UID = H("04782E21801D80")


class AesTest(unittest.TestCase):
    def test_fips197_appendix_c1(self):
        key = H("000102030405060708090a0b0c0d0e0f")
        self.assertEqual(yc.aes128_encrypt_block(key, H("00112233445566778899aabbccddeeff")),
                         H("69c4e0d86a7b0430d8cdb78070b4c55a"))

    def test_fips197_appendix_b(self):
        self.assertEqual(yc.aes128_encrypt_block(NIST_KEY, H("3243f6a8885a308d313198a2e0370734")),
                         H("3925841d02dc09fbdc118597196a0b32"))

    def test_sbox_is_a_permutation(self):
        self.assertEqual(sorted(yc.SBOX), list(range(256)))


class CmacTest(unittest.TestCase):
    """NIST SP 800-38B appendix D.1 (AES-128)."""

    def test_subkeys(self):
        k1, k2 = yc.cmac_subkeys(NIST_KEY)
        self.assertEqual(k1, H("fbeed618357133667c85e08f7236a8de"))
        self.assertEqual(k2, H("f7ddac306ae266ccf90bc11ee46d513b"))

    def test_examples(self):
        for n, want in ((0, "bb1d6929e95937287fa37d129b756746"),
                        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
                        (40, "dfa66747de9ae63030ca32611497c827"),
                        (64, "51f0bebf7e3b9d92fc49741779363cfe")):
            with self.subTest(length=n):
                self.assertEqual(yc.aes_cmac(NIST_KEY, NIST_MSG[:n]), H(want))


class An10922Test(unittest.TestCase):
    def test_nxp_example(self):
        m = AN_UID + H("3042F5") + H("4E585020416275")
        self.assertEqual(yc.an10922_diversify(AN_MASTER, m),
                         H("A8DD63A3B89D54B37CA802473FDA9175"))

    def test_short_input_is_not_plain_cmac(self):
        m = AN_UID + H("3042F5")
        self.assertEqual(yc.an10922_diversify(AN_MASTER, m),
                         H("0DAA19EEEA04340DE38A20330013090D"))
        self.assertEqual(yc.aes_cmac(AN_MASTER, b"\x01" + m),
                         H("5351D428BEE43D9CF694523596A09EB6"))

    def test_long_input_is_plain_cmac(self):
        m = bytes(range(1, 32))
        for n in range(16, 32):
            self.assertEqual(yc.an10922_diversify(AN_MASTER, m[:n]),
                             yc.aes_cmac(AN_MASTER, b"\x01" + m[:n]))
        # The value tests/unit/test_cardcrypto.c pins for 31 bytes.
        self.assertEqual(yc.an10922_diversify(AN_MASTER, m),
                         H("db1e697c02d65fadd04fda40ecaacff4"))

    def test_ykt_convention(self):
        self.assertEqual(yc.card_key(AN_MASTER, AN_UID), H("5D017015CB29127AEF957471C434518C"))
        self.assertEqual(yc.card_key(AN_MASTER, AN_UID, phone=True),
                         H("5DACD82DC0286DE7DA50F02D2556D583"))
        self.assertNotEqual(yc.card_key(AN_MASTER, AN_UID, campus=b"EAST"),
                            yc.card_key(AN_MASTER, AN_UID))


class CryptogramTest(unittest.TestCase):
    """The worked example of docs/card-crypto.md, including its hex dump."""

    FIELDS = ("POS-0001", 42, AN_UID, 7, "PAY", 1250, 1700000000000)

    def test_worked_example(self):
        key = yc.card_key(AN_MASTER, AN_UID)
        enc = yc.cryptogram_encode(*self.FIELDS)
        self.assertEqual(len(enc), 50)
        self.assertEqual(yc.aes_cmac(key, enc), H("0523EE6E58A012F9BA27DB0987E7A881"))
        self.assertEqual(yc.cryptogram(key, *self.FIELDS), H("0523EE6E58A012F9"))
        f = list(self.FIELDS)
        f[3] = 8
        self.assertEqual(yc.cryptogram(key, *f), H("ED74C3FAEEEAE4FB"))
        phone = yc.card_key(AN_MASTER, AN_UID, phone=True)
        self.assertEqual(yc.cryptogram(phone, *self.FIELDS), H("73925F53C936F604"))

    def test_the_document_shows_these_bytes(self):
        with open(os.path.join(SOURCE_DIR, "docs", "card-crypto.md"), encoding="utf-8") as f:
            doc = f.read()
        dump = re.findall(r"^0000[0-9a-f]{4}  ((?:[0-9a-f]{2} {1,2})+)", doc, re.M)
        self.assertEqual(bytes.fromhex("".join(dump)), yc.cryptogram_encode(*self.FIELDS))

    def test_length_prefixes_keep_fields_apart(self):
        a = yc.cryptogram_encode("AB", 1, AN_UID, 1, "C", 0, 0)
        b = yc.cryptogram_encode("A", 1, AN_UID, 1, "BC", 0, 0)
        self.assertNotEqual(a, b)
        self.assertEqual(len(a), 32 + 2 + 7 + 1)


class SimCardTest(unittest.TestCase):
    def test_swipe_increments_the_atc(self):
        card = yc.SimCard(AN_MASTER, uid="04782E21801D80")
        card.atc = 6
        args = card.swipe("POS-0001", 42, "PAY", 1250, 1700000000000, extra=("123456",))
        self.assertEqual(args, ["PAY", "42", "04782E21801D80", "7", "1700000000000", "1250",
                                "0523EE6E58A012F9", "123456"])
        self.assertEqual(card.atc, 7)
        self.assertEqual(card.swipe("POS-0001", 42, "PAY", 1250, 1700000000000)[6],
                         "ED74C3FAEEEAE4FB")

    def test_misbehaviours(self):
        card = yc.SimCard(AN_MASTER)
        other = yc.SimCard(AN_MASTER)
        self.assertEqual(len(card.uid), 7)
        self.assertEqual(card.uid[0], 0x04)
        self.assertEqual(yc.SimCard(AN_MASTER, phone=True).uid[0], 0x50)
        card.swipe("T", 1, "PAY", 100)
        card.swipe("T", 2, "PAY", 100)
        old = card.swipe("T", 3, "PAY", 100, time_ms=5, atc=1)
        self.assertEqual((old[3], card.atc), ("1", 2))
        self.assertEqual(old[6], yc.cryptogram(card.key, "T", 3, card.uid, 1, "PAY", 100, 5)
                         .hex().upper())
        clone = card.swipe("T", 4, "PAY", 100, time_ms=5, key_of=other.uid_hex)
        self.assertEqual(clone[6], yc.cryptogram(other.key, "T", 4, card.uid, 3, "PAY", 100, 5)
                         .hex().upper())
        self.assertEqual(card.swipe("T", 5, "PAY", 100, time_ms=5, key_of=other)[6],
                         yc.cryptogram(other.key, "T", 5, card.uid, 4, "PAY", 100, 5).hex().upper())
        tampered = card.swipe("T", 6, "PAY", 100, time_ms=5, tamper_amount=1)
        self.assertEqual(tampered[5], "1")
        self.assertEqual(tampered[6], yc.cryptogram(card.key, "T", 6, card.uid, 5, "PAY", 100, 5)
                         .hex().upper())

    def test_write_master_key(self):
        d = tempfile.mkdtemp(prefix="ykt-key-")
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "master.key")
        with open(path, "w") as f:
            f.write("old")
        os.chmod(path, 0o644)
        yc.write_master_key(path, AN_MASTER)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l and not l.startswith("#")]
        self.assertEqual(lines, [AN_MASTER.hex()])


# ---- against the C implementation ------------------------------------------------------------


def random_fields(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
    return {
        "terminal": "".join(rng.choice(alphabet[:-3]) for _ in range(1)) +
                    "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 62))),
        "seq": rng.choice([1, rng.randint(1, 1 << 20), rng.randint(1, (1 << 63) - 1)]),
        "uid": bytes([rng.choice([0x04, 0x50])]) +
               bytes(rng.randint(0, 255) for _ in range(rng.choice([3, 6, 9]))),
        "atc": rng.choice([0, 1, rng.randint(1, 1000), 0xFFFFFFFF]),
        "verb": rng.choice(["CARD.INFO", "PAY", "TOPUP", "DOOR.ENTER", "WATER.START",
                            "X" * 31]),
        "amount": rng.choice([0, rng.randint(1, 100000), rng.randint(0, (1 << 63) - 1)]),
        "time": rng.choice([1700000000000, rng.randint(1600000000000, 1900000000000),
                            -rng.randint(1, 1 << 40)]),
        "phone": rng.random() < 0.5,
    }


class CardsimTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ykt-cardsim-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.master = os.urandom(16)
        self.key_file = yc.write_master_key(os.path.join(self.dir, "master.key"), self.master)
        self.state = os.path.join(self.dir, "state")

    def cardsim(self, *args, campus="DEMO", rc=0):
        cmd = [CARDSIM, "--master-key", self.key_file, "--campus", campus,
               "--state", self.state] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, YKT_TERMINAL_SECRET=""))
        if rc is not None:
            self.assertEqual(p.returncode, rc, "%s\nstdout: %s\nstderr: %s" %
                             (" ".join(cmd), p.stdout, p.stderr))
        return p


class CardsimCryptogramTest(CardsimTestCase):
    def run_c(self, f, campus="DEMO", *more):
        args = ["cryptogram", "--uid", f["uid"].hex(), "--terminal", f["terminal"],
                "--seq", f["seq"], "--atc", f["atc"], "--time", f["time"],
                "--amount", f["amount"]] + (["--phone"] if f["phone"] else []) + list(more)
        return self.cardsim(*args, f["verb"], campus=campus).stdout

    def test_same_cryptograms_as_python(self):
        seed = int.from_bytes(os.urandom(4), "big")
        rng = random.Random(seed)
        for i in range(12):
            f = random_fields(rng)
            if i < 2:
                f["phone"] = bool(i)  # both media, whatever the dice say
            campus = rng.choice([b"DEMO", b"EAST-CAMPUS", b"Z"])
            with self.subTest(seed=seed, fields=f, campus=campus):
                key = yc.card_key(self.master, f["uid"], f["phone"], campus)
                want = yc.cryptogram(key, f["terminal"], f["seq"], f["uid"], f["atc"],
                                     f["verb"], f["amount"], f["time"]).hex().upper()
                self.assertEqual(self.run_c(f, campus.decode()).strip(), want)

    def test_verbose_shows_the_same_bytes(self):
        f = random_fields(random.Random(7))
        f["phone"] = True
        out = self.run_c(f, "DEMO", "-v")
        enc = yc.cryptogram_encode(f["terminal"], f["seq"], f["uid"], f["atc"], f["verb"],
                                   f["amount"], f["time"])
        key = yc.card_key(self.master, f["uid"], True)
        self.assertIn("E     %s\n" % enc.hex().upper(), out)
        self.assertIn("card key  %s\n" % key.hex().upper(), out)
        self.assertIn("CMAC  %s\n" % yc.aes_cmac(key, enc).hex().upper(), out)
        self.assertEqual(out.splitlines()[-1], yc.aes_cmac(key, enc)[:8].hex().upper())
        js = json.loads(self.run_c(f, "DEMO", "--json"))
        self.assertEqual(js, {"cryptogram": yc.aes_cmac(key, enc)[:8].hex().upper(),
                              "encoding": enc.hex().upper()})

    def test_the_worked_example(self):
        yc.write_master_key(self.key_file, AN_MASTER)
        out = self.cardsim("cryptogram", "--uid", "04782e21801d80", "--terminal", "POS-0001",
                           "--seq", 42, "--atc", 7, "--time", 1700000000000, "--amount", 1250,
                           "pay").stdout
        self.assertEqual(out, "0523EE6E58A012F9\n")

    def test_refuses_a_readable_key_file(self):
        os.chmod(self.key_file, 0o644)
        p = self.cardsim("cryptogram", "--uid", "04782E21801D80", "--terminal", "T", "--seq",
                         1, "--atc", 1, "--time", 1, "PAY", rc=2)
        self.assertIn("0644", p.stderr)
        self.assertNotIn(self.master.hex(), p.stderr + p.stdout)


class FakeGateway:
    """Accepts terminal connections, answers AUTH, records every command and answers it with
    self.reply (a function of the arguments returning raw RESP bytes)."""

    def __init__(self, secret="s3cret"):
        self.secret = secret
        self.commands = []
        self.reply = lambda args: b"+OK\r\n"
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        # Wake the accept() first and wait for the thread: closing the socket under a
        # blocked accept() would let the thread accept on a later socket with the same fd.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with conn:
            f = conn.makefile("rb")
            while True:
                args = self._read(f)
                if args is None:
                    break
                if args[0] == "AUTH":
                    ok = args[2] == self.secret
                    conn.sendall(b"+OK\r\n" if ok else b"-NOAUTH bad secret\r\n")
                else:
                    self.commands.append(args)
                    conn.sendall(self.reply(args))

    @staticmethod
    def _read(f):
        line = f.readline()
        if not line:
            return None
        assert line.startswith(b"*"), line
        args = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            args.append(f.read(n + 2)[:-2].decode())
        return args


class CardsimSwipeTest(CardsimTestCase):
    def setUp(self):
        super().setUp()
        self.gw = FakeGateway()
        self.addCleanup(self.gw.close)
        self.card = yc.SimCard(self.master)

    def swipe(self, *args, rc=0, terminal="POS-C1-01", secret="s3cret"):
        return self.cardsim("-p", self.gw.port, "--terminal", terminal, "--secret", secret,
                            "swipe", "--uid", self.card.uid_hex, *args, rc=rc)

    def check_signed(self, sent, atc, amount, seq, terminal="POS-C1-01", key=None):
        """sent must be the card verb for these fields, signed with key (the card's own)."""
        verb, s, uid, a, t, _, mac = sent[:7]
        self.assertEqual((s, uid, a), (str(seq), self.card.uid_hex, str(atc)))
        want = yc.cryptogram(key or self.card.key, terminal, seq, self.card.uid, atc, verb,
                             amount, int(t))
        self.assertEqual(mac, want.hex().upper())

    def test_atc_and_seq_increase_across_runs(self):
        self.swipe("--amount", 1250, "PAY")
        self.swipe("card.info")
        self.swipe("--seq", 10, "--time", 1700000000000, "PAY", "123456", "--", "-x")
        self.swipe("PAY")
        c = self.gw.commands
        self.assertEqual([x[0] for x in c], ["PAY", "CARD.INFO", "PAY", "PAY"])
        self.check_signed(c[0], 1, 1250, 1)
        self.assertEqual(c[1][5], "0")
        self.check_signed(c[1], 2, 0, 2)
        self.check_signed(c[2], 3, 0, 10)
        self.assertEqual(c[2][4], "1700000000000")
        self.assertEqual(c[2][7:], ["123456", "-x"])
        self.check_signed(c[3], 4, 0, 11)  # the terminal counter moved past --seq 10
        with open(os.path.join(self.state, self.card.uid_hex + ".card")) as f:
            self.assertEqual(f.read(), "4\n")
        with open(os.path.join(self.state, "POS-C1-01.seq")) as f:
            self.assertEqual(f.read(), "11\n")
        listing = json.loads(self.cardsim("card", "list", "--json").stdout)
        self.assertEqual(listing, [{"uid": self.card.uid_hex, "medium": "card", "atc": 4}])

    def test_offline_upload_carries_the_pay_the_card_signed(self):
        """PAY.OFFLINE uploads a sale the card signed as PAY: the gateway checks it as PAY."""
        self.swipe("--amount", 800, "--time", 1700000000000, "pay.offline")
        sent = self.gw.commands[0]
        self.assertEqual(sent[0], "PAY.OFFLINE")
        want = yc.cryptogram(self.card.key, "POS-C1-01", 1, self.card.uid, 1, "PAY", 800,
                             1700000000000)
        self.assertEqual(sent[6], want.hex().upper())
        # `cryptogram` computes the same for the verb
        out = self.cardsim("cryptogram", "--uid", self.card.uid_hex, "--terminal", "POS-C1-01",
                           "--seq", 1, "--atc", 1, "--time", 1700000000000, "--amount", 800,
                           "PAY.OFFLINE").stdout
        self.assertEqual(out.strip(), want.hex().upper())

    def test_parallel_runs_never_share_a_counter(self):
        cmd = [CARDSIM, "--master-key", self.key_file, "--state", self.state, "-p",
               str(self.gw.port), "--terminal", "POS-C1-01", "--secret", "s3cret", "swipe",
               "--uid", self.card.uid_hex, "PAY"]
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL) for _ in range(8)]
        self.assertEqual([p.wait(60) for p in procs], [0] * 8)
        c = self.gw.commands
        self.assertEqual(sorted(int(x[3]) for x in c), list(range(1, 9)))
        self.assertEqual(sorted(int(x[1]) for x in c), list(range(1, 9)))

    def test_phone_credential_has_its_own_key_and_atc(self):
        self.swipe("PAY")
        self.swipe("--phone", "PAY")
        phone = yc.SimCard(self.master, uid=self.card.uid, phone=True)
        self.check_signed(self.gw.commands[1], 1, 0, 2, key=phone.key)

    def test_replays_and_forgeries(self):
        self.swipe("--amount", 100, "PAY")
        self.swipe("--amount", 100, "--replay", "PAY")
        self.swipe("--amount", 100, "--atc", 0, "PAY")
        other = yc.SimCard(self.master)
        self.swipe("--amount", 100, "--key-of", other.uid_hex, "PAY")
        self.swipe("--amount", 100, "--tamper-amount", 1, "PAY")
        c = self.gw.commands
        self.check_signed(c[1], 1, 100, 2)
        self.check_signed(c[2], 0, 100, 3)
        self.check_signed(c[3], 2, 100, 4, key=other.key)
        self.assertEqual(c[4][5], "1")
        self.check_signed(c[4], 3, 100, 5)

    def test_replies_and_exit_status(self):
        self.gw.reply = lambda args: b"*2\r\n$7\r\nbalance\r\n:4200\r\n"
        self.assertEqual(json.loads(self.swipe("--json", "CARD.INFO").stdout),
                         {"reply": ["balance", 4200]})
        self.gw.reply = lambda args: b"-REPLAY ATC 1 is not above the last accepted 2\r\n"
        p = self.swipe("PAY", rc=1)
        self.assertEqual(p.stdout, "(error) REPLAY ATC 1 is not above the last accepted 2\n")
        p = self.swipe("--json", "PAY", rc=1)
        self.assertEqual(json.loads(p.stdout), {
            "error": "REPLAY", "message": "ATC 1 is not above the last accepted 2"})

    def test_refused_auth_uses_no_atc(self):
        p = self.swipe("--json", "PAY", secret="wrong", rc=1)
        self.assertEqual(json.loads(p.stdout)["error"], "NOAUTH")
        self.assertEqual(self.gw.commands, [])
        self.swipe("PAY")
        self.check_signed(self.gw.commands[0], 1, 0, 1)

    def test_usage_and_connection_problems(self):
        self.swipe(rc=2)  # no VERB
        self.cardsim("swipe", "--terminal", "T", "--secret", "s", "PAY", rc=2)  # no --uid
        self.swipe("--amount", "12.50", "PAY", rc=2)
        self.swipe("--replay", "PAY", rc=2)  # nothing to replay yet
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        self.cardsim("-p", port, "--terminal", "T", "--secret", "s", "swipe", "--uid",
                     self.card.uid_hex, "PAY", rc=2)

    def test_card_new(self):
        for phone in (False, True):
            out = self.cardsim("card", "new", *(["--phone"] if phone else [])).stdout.strip()
            self.assertRegex(out, "^%s[0-9A-F]{12}$" % ("50" if phone else "04"))
            with open(os.path.join(self.state, out + (".phone" if phone else ".card"))) as f:
                self.assertEqual(f.read(), "0\n")


if __name__ == "__main__":
    unittest.main()
