"""Sends one PAY from a software card to yktd's terminal port and prints the outcome as JSON:
{"reply": [...]} or {"error": "CODE message"}. The browser tests (run.js) call it; the card
cryptography is tests/e2e/ykt_cards.py's.

    python3 pay.py PORT TERMINAL SECRET UID MASTER_KEY_HEX AMOUNT_FEN SEQ [ATC [TIME_MS]]

TIME_MS is the time the card signs (default: the machine's clock); run.js passes the gateway's
shifted clock (YKT_TEST_CLOCK_OFFSET_MS), which yktd checks against [cards] max_clock_skew.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

from harness import RespClient, RespError  # noqa: E402
from ykt_cards import SimCard  # noqa: E402


def main(argv):
    port, terminal, secret, uid, master, amount, seq = argv[:7]
    atc = int(argv[7]) if len(argv) > 7 else None
    time_ms = int(argv[8]) if len(argv) > 8 else None
    card = SimCard(bytes.fromhex(master), uid=uid)
    c = RespClient.tcp(int(port))
    try:
        r = c.call("AUTH", terminal, secret)
        if r != "OK":
            print(json.dumps({"error": "AUTH %r" % (r,)}))
            return 2
        r = c.call(*card.swipe(terminal, int(seq), "PAY", amount=int(amount), atc=atc,
                                time_ms=time_ms))
    finally:
        c.close()
    print(json.dumps({"error": r.line} if isinstance(r, RespError) else {"reply": r}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
