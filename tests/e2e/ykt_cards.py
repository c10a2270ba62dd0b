"""Software cards for the end-to-end tests: an independent implementation of the ykt card
cryptography (docs/card-crypto.md) in pure Python, standard library only.

It is written from the documents, not from the C code, so that the tests which compare it
with the gateway (core/src/cardcrypto.c) and with ykt-cardsim compare two implementations:

- AES-128 encryption of one block, from FIPS-197;
- AES-CMAC, from NIST SP 800-38B;
- AN10922 key diversification, which always processes two blocks (for short inputs this is
  not the same as plain CMAC);
- the cryptogram encoding, format version 1;
- SimCard: a card that signs swipes and returns the RESP arguments of a card verb
      VERB <seq> <uid-hex> <atc> <time-ms> <amount-fen> <cryptogram-hex16> [extra...]

Speed is not a goal (a few hundred swipes a second is plenty for tests); clarity is.
"""

import os
import struct
import time

# ---- AES-128 (FIPS-197), encryption only ---------------------------------------------------


def _xtime(b):
    """Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 4.2.1)."""
    b <<= 1
    return (b ^ 0x11B) if b & 0x100 else b


def _gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _make_sbox():
    """The S-box from its definition (FIPS-197 5.1.1): the multiplicative inverse in GF(2^8)
    followed by the affine transformation, so no table has to be typed in."""
    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if _gmul(a, b) == 1:
                inv[a] = b
                break
    sbox = []
    for a in range(256):
        b = inv[a]
        s = 0x63
        for shift in range(5):  # b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63
            s ^= ((b << shift) | (b >> (8 - shift))) & 0xFF
        sbox.append(s)
    return bytes(sbox)


SBOX = _make_sbox()
assert SBOX[0x00] == 0x63 and SBOX[0x53] == 0xED  # FIPS-197 figure 7 and the 5.1.1 example


def _expand_key(key):
    """Key expansion for AES-128 (FIPS-197 5.2): 11 round keys of 16 bytes."""
    assert len(key) == 16
    words = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(words[i - 1])
        if i % 4 == 0:
            t = t[1:] + t[:1]                 # RotWord
            t = [SBOX[b] for b in t]          # SubWord
            t[0] ^= rcon
            rcon = _xtime(rcon)
        words.append([a ^ b for a, b in zip(words[i - 4], t)])
    return [bytes(sum(words[4 * r:4 * r + 4], [])) for r in range(11)]


def _mix_column(c):
    a0, a1, a2, a3 = c
    return [
        _gmul(a0, 2) ^ _gmul(a1, 3) ^ a2 ^ a3,
        a0 ^ _gmul(a1, 2) ^ _gmul(a2, 3) ^ a3,
        a0 ^ a1 ^ _gmul(a2, 2) ^ _gmul(a3, 3),
        _gmul(a0, 3) ^ a1 ^ a2 ^ _gmul(a3, 2),
    ]


def aes128_encrypt_block(key, block):
    """Encrypts one 16-byte block with a 16-byte key (FIPS-197 5.1, Cipher())."""
    assert len(block) == 16
    rk = _expand_key(bytes(key))
    # The state is kept as a flat list in input order: s[r + 4c] is row r, column c.
    s = [b ^ k for b, k in zip(block, rk[0])]
    for rnd in range(1, 11):
        s = [SBOX[b] for b in s]                                      # SubBytes
        s = [s[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]  # ShiftRows
        if rnd != 10:                                                 # MixColumns
            s = sum((_mix_column(s[4 * c:4 * c + 4]) for c in range(4)), [])
        s = [b ^ k for b, k in zip(s, rk[rnd])]                       # AddRoundKey
    return bytes(s)


# ---- AES-CMAC (NIST SP 800-38B) -------------------------------------------------------------


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def _double(block):
    """Doubling in GF(2^128) as SP 800-38B 6.1 uses it: shift left; on carry, XOR R128=0x87."""
    n = int.from_bytes(block, "big") << 1
    if n >> 128:
        n = (n ^ 0x87) & ((1 << 128) - 1)
    return n.to_bytes(16, "big")


def cmac_subkeys(key):
    """K1, K2 of SP 800-38B 6.1."""
    k1 = _double(aes128_encrypt_block(key, bytes(16)))
    return k1, _double(k1)


def aes_cmac(key, msg):
    """The full 16-byte AES-128 CMAC of msg (SP 800-38B 6.2)."""
    k1, k2 = cmac_subkeys(key)
    n = max(1, (len(msg) + 15) // 16)
    complete = len(msg) > 0 and len(msg) % 16 == 0
    last = msg[16 * (n - 1):]
    if complete:
        last = _xor(last, k1)
    else:
        last = _xor(last + b"\x80" + bytes(15 - len(last)), k2)
    x = bytes(16)
    for i in range(n - 1):
        x = aes128_encrypt_block(key, _xor(x, msg[16 * i:16 * i + 16]))
    return aes128_encrypt_block(key, _xor(x, last))


# ---- AN10922 key diversification -------------------------------------------------------------

AID_CARD = bytes.fromhex("594B54")   # "YKT": the physical card
AID_PHONE = bytes.fromhex("594B56")  # "YKV": the phone credential


def an10922_diversify(master, m):
    """AN10922 section 2.2, AES-128: CMAC over D = 0x01 || M, but always as two blocks. A D
    shorter than 32 bytes is padded with 0x80 00.. to 32 bytes and the second block masked
    with K2; a D of exactly 32 bytes is masked with K1."""
    if not 1 <= len(m) <= 31:
        raise ValueError("AN10922 diversification input must be 1 to 31 bytes")
    d = b"\x01" + bytes(m)
    k1, k2 = cmac_subkeys(master)
    if len(d) < 32:
        d = d + b"\x80" + bytes(31 - len(d))
        sub = k2
    else:
        sub = k1
    x = aes128_encrypt_block(master, d[:16])
    return aes128_encrypt_block(master, _xor(_xor(x, d[16:]), sub))


def card_key(master, uid, phone=False, campus=b"DEMO"):
    """The ykt convention: M = UID || AID(medium) || campus code."""
    if not 1 <= len(uid) <= 10 or not campus:
        raise ValueError("UID must be 1..10 bytes and the campus code not empty")
    return an10922_diversify(master, bytes(uid) + (AID_PHONE if phone else AID_CARD) +
                             bytes(campus))


# ---- the cryptogram --------------------------------------------------------------------------


def _as_bytes(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def cryptogram_encode(terminal_id, seq, uid, atc, operation, amount, time_ms):
    """Encoding E, format version 1 (docs/card-crypto.md): big-endian fixed-width integers
    and length-prefixed strings."""
    t, op = _as_bytes(terminal_id), _as_bytes(operation)
    if not 1 <= len(t) <= 63 or not 1 <= len(uid) <= 10 or not 1 <= len(op) <= 31:
        raise ValueError("terminal id 1..63, uid 1..10, operation 1..31 bytes")
    return (b"\x01" + bytes([len(t)]) + t + struct.pack(">Q", seq) +
            bytes([len(uid)]) + bytes(uid) + struct.pack(">I", atc) +
            bytes([len(op)]) + op + struct.pack(">qq", amount, time_ms))


def cryptogram(key, terminal_id, seq, uid, atc, operation, amount, time_ms):
    """The first 8 bytes of AES-CMAC(card key, E)."""
    return aes_cmac(key, cryptogram_encode(terminal_id, seq, uid, atc, operation, amount,
                                           time_ms))[:8]


# ---- master key files and software cards -----------------------------------------------------


def write_master_key(path, key_bytes, comment="ykt master key for tests"):
    """Writes key_bytes (16 bytes) as a key file ykt_master_key_load accepts: mode 0600, one
    line of 32 hex digits, a comment line."""
    if len(key_bytes) != 16:
        raise ValueError("an AES-128 key is 16 bytes")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the file existed with another mode
        os.write(fd, ("# %s\n%s\n" % (comment, key_bytes.hex())).encode())
    finally:
        os.close(fd)
    return path


def new_uid(phone=False):
    """A random 7-byte UID: 0x04 first for cards (NXP), 0x50 for phone credentials, as
    ykt-cardsim does."""
    return bytes([0x50 if phone else 0x04]) + os.urandom(6)


class SimCard:
    """A software card: UID, medium, key and ATC (the last value used; the next swipe uses
    atc + 1)."""

    def __init__(self, master_key, campus=b"DEMO", uid=None, phone=False):
        self.master = bytes(master_key)
        self.campus = _as_bytes(campus)
        if uid is None:
            uid = new_uid(phone)
        elif isinstance(uid, str):
            uid = bytes.fromhex(uid)
        self.uid = bytes(uid)
        self.phone = phone
        self.key = card_key(self.master, self.uid, phone, self.campus)
        self.atc = 0

    @property
    def uid_hex(self):
        return self.uid.hex().upper()

    @property
    def medium(self):
        return "phone" if self.phone else "card"

    def key_for(self, uid):
        """The key the card centre derives for another UID of the same medium."""
        if isinstance(uid, SimCard):
            return uid.key
        if isinstance(uid, str):
            uid = bytes.fromhex(uid)
        return card_key(self.master, uid, self.phone, self.campus)

    def swipe(self, terminal_id, seq, verb, amount=0, time_ms=None, extra=(), atc=None,
              key_of=None, tamper_amount=None):
        """Signs one transaction and returns the RESP arguments of the card verb, as strings:
        [VERB, seq, uid, atc, time, amount, cryptogram, *extra].

        atc:           sign with this ATC instead of the next one (replays); the card's own
                       counter then only moves forward if atc is above it
        key_of:        sign with another card's key (a UID or a SimCard): a cloned card
        tamper_amount: send this amount instead of the signed one: a dishonest terminal
        """
        if time_ms is None:
            time_ms = int(time.time() * 1000)
        if atc is None:
            if self.atc >= 0xFFFFFFFF:
                raise ValueError("ATC exhausted; a real card must be replaced")
            self.atc += 1
            atc = self.atc
        else:
            self.atc = max(self.atc, atc)
        key = self.key if key_of is None else self.key_for(key_of)
        mac = cryptogram(key, terminal_id, seq, self.uid, atc, verb, amount, time_ms)
        sent_amount = amount if tamper_amount is None else tamper_amount
        return [verb, str(seq), self.uid_hex, str(atc), str(time_ms), str(sent_amount),
                mac.hex().upper()] + [str(x) for x in extra]
