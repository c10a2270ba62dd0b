/*
 * Fuzz target: the command and cryptogram input path of the terminal port — verb dispatch
 * (ykt_verbs_dispatch) with the real core, card and money verbs, card arguments
 * (ykt_presented_parse) and card authentication (ykt_card_authenticate, cardcrypto.c) —
 * against a real database holding one person with one active card.
 *
 * Input: byte 0 picks the terminal (pos, kiosk, gate, dispenser) and the mode.
 *   Raw mode: the rest, split on '\n', is the argument vector (verb first; arguments may hold
 *   any byte, NUL included; AUTH and QUIT, which need a connection, are left out). Invariants:
 * exactly one well-formed RESP reply, no database command left open, and nothing is ever
 * authenticated: no row of any table changes except the kept outcomes (terminal_requests; their
 * heads, WITHOUT ROWID, are not reported by the update hook) and the terminal's health, and no
 * reply carries an error that only a matching cryptogram can reach (CLOCK_SKEW, REPLAY, CARD_LOST,
 * ...). Signed mode: the harness builds a correct request for the card (CARD.INFO, PAY or TOPUP,
 * with a cryptogram computed from the card key), then byte 2 picks an argument to replace by the
 * rest of the input (or none). Invariants: the untouched request authenticates; a changed one
 * authenticates only if every field the cryptogram binds still reads the same.
 */
#include "fuzz.h"

#include "card.h"
#include "card_verbs.h"
#include "cardauth.h"
#include "cardcrypto.h"
#include "common.h"
#include "db.h"
#include "gateway.h"
#include "ledger.h"
#include "log.h"
#include "pay_verbs.h"
#include "person.h"
#include "request.h"
#include "resp.h"
#include "store/store.h"
#include "terminal.h"
#include "util.h"
#include "verbs.h"
#include "wallet.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CARD_UID "04A1B2C3D4E5F6"
#define MAX_ARGS 16

static ykt_gw gw;
static ykt_terminal terms[4];
static char db_path[256];

/* Rows written by the current input, seen by SQLite's update hook even when they are rolled
 * back afterwards: a write to cards, card_events or the ledger means a card was accepted. */
static int foreign_writes;
static char foreign_table[64];

static void on_update(void *arg, int op, const char *dbname, const char *table, sqlite3_int64 row)
{
    if (strcmp(table, "terminal_requests") == 0 || strcmp(table, "terminals") == 0)
        return;
    if (foreign_writes++ == 0)
        snprintf(foreign_table, sizeof foreign_table, "%s", table);
}

static void cleanup(void)
{
    ykt_terminals_free(gw.terminals);
    ykt_db_close(gw.db);
    ykt_verbs_free(gw.verbs);
    unlink(db_path);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    unlink(side);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ykt_log_set_level(100); /* quiet: every refused cryptogram is logged */
    ykt_config_defaults(&gw.cfg);
    /* No Lua here: a PAY's fee comes from the built-in rule ([rules] fee_script empty). */
    gw.cfg.fee_script[0] = '\0';
    for (int i = 0; i < 16; i++)
        gw.master_key[i] = (uint8_t)(0x10 + i);
    /* tmpfs when there is one: the harness commits after every input. */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(db_path, sizeof db_path, "%s/ykt-fuzz-card-%d.db", dir, (int)getpid());
    char err[512] = "";
    if (ykt_db_open(&gw.db, db_path, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "fuzz_card: %s\n", err);
        abort();
    }
    atexit(cleanup);
    sqlite3 *h = ykt_db_handle(gw.db);
    CHECK(sqlite3_exec(h, "PRAGMA synchronous = OFF", NULL, NULL, NULL) == SQLITE_OK);

    static const struct {
        const char *id;
        unsigned type;
    } spec[4] = {{"pos-1", YKT_TT_POS},
                 {"kiosk-1", YKT_TT_KIOSK},
                 {"gate-1", YKT_TT_GATE},
                 {"disp-1", YKT_TT_DISPENSER}};
    for (int i = 0; i < 4; i++) {
        ykt_terminal t;
        memset(&t, 0, sizeof t);
        snprintf(t.id, sizeof t.id, "%s", spec[i].id);
        t.type = spec[i].type;
        t.status = YKT_TS_ENABLED;
        snprintf(t.secret_hash, sizeof t.secret_hash, "x");
        t.created_at = ykt_now_ms();
        /* The POS sells for a merchant, so that a correctly signed PAY gets as far as the
         * balance (NO_MERCHANT, which PAY.OFFLINE answers before the cryptogram, would
         * end it earlier without a write). */
        if (t.type == YKT_TT_POS)
            snprintf(t.owner, sizeof t.owner, "canteen-1");
        CHECK(ykt_store_terminal_insert(gw.db, &t) == YKT_OK);
        terms[i] = t;
    }
    CHECK(ykt_terminals_load(&gw.terminals, gw.db) == YKT_OK);

    ykt_merchant m;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "canteen-1");
    snprintf(m.name, sizeof m.name, "Fuzz Canteen");
    snprintf(m.category, sizeof m.category, "canteen");
    snprintf(m.status, sizeof m.status, "active");
    m.created_at = ykt_now_ms();
    CHECK(ykt_ledger_account(gw.db, YKT_ACC_MERCHANT, m.id, &m.account) == YKT_OK);
    CHECK(ykt_store_merchant_insert(gw.db, &m) == YKT_OK);

    ykt_person p;
    memset(&p, 0, sizeof p);
    snprintf(p.person_no, sizeof p.person_no, "S001");
    snprintf(p.kind, sizeof p.kind, "staff");
    snprintf(p.name, sizeof p.name, "Fuzz Tester");
    snprintf(p.gender, sizeof p.gender, "F");
    snprintf(p.id_number, sizeof p.id_number, "11010519491231002X");
    snprintf(p.department, sizeof p.department, "QA");
    snprintf(p.valid_until, sizeof p.valid_until, "2099-12-31");
    const char *field = NULL, *why = NULL;
    if (ykt_person_validate(&p, &field, &why) != YKT_OK) {
        fprintf(stderr, "fuzz_card: person %s: %s\n", field, why);
        abort();
    }
    p.created_at = p.updated_at = ykt_now_ms();
    CHECK(ykt_store_person_insert(gw.db, &p) == YKT_OK);

    ykt_card c;
    memset(&c, 0, sizeof c);
    ykt_card_number(1, c.card_no);
    snprintf(c.uid, sizeof c.uid, "%s", CARD_UID);
    c.person_id = p.id;
    snprintf(c.medium, sizeof c.medium, "card");
    snprintf(c.type, sizeof c.type, "regular");
    snprintf(c.status, sizeof c.status, "active");
    snprintf(c.valid_until, sizeof c.valid_until, "2099-12-31");
    snprintf(c.issued_by, sizeof c.issued_by, "fuzz");
    c.issued_at = c.status_at = ykt_now_ms();
    CHECK(ykt_store_card_insert(gw.db, &c) == YKT_OK);

    gw.verbs = ykt_verbs_new();
    CHECK(gw.verbs != NULL);
    CHECK(ykt_core_verbs_register(gw.verbs) == YKT_OK);
    CHECK(ykt_card_verbs_register(gw.verbs) == YKT_OK);
    CHECK(ykt_pay_verbs_register(gw.verbs) == YKT_OK);
    /* This replaces yktd's own update hook, which moves the row epoch (db.h) of kept cards
     * and merchants: this gateway keeps no cards (gw.cards NULL), and nothing after this
     * changes a merchant. */
    sqlite3_update_hook(h, on_update, NULL);
    return 0;
}

/* Dispatches argv as terminal term; returns the reply (caller frees) after the checks every
 * request must pass. */
static char *dispatch(ykt_terminal *term, int argc, char **argv, size_t *argl)
{
    ykt_buf out;
    ykt_buf_init(&out);
    ykt_req req;
    memset(&req, 0, sizeof req);
    req.gw = &gw;
    req.argc = argc;
    req.argv = argv;
    req.argl = argl;
    req.term = term;
    req.out = &out;
    foreign_writes = 0;
    ykt_verbs_dispatch(&req);
    /* Nothing on this path may defer (it would need a connection): only PIN checks do, and
     * they come after authentication. */
    CHECK(!req.deferred);
    CHECK(req.replied);
    CHECK(!ykt_db_in_cmd(gw.db));
    CHECK(ykt_db_batch_commit(gw.db) == YKT_OK);
    CHECK(ykt_db_exec(gw.db, "DELETE FROM terminal_requests; DELETE FROM terminal_heads") ==
          YKT_OK);
    /* Exactly one well-formed reply. */
    ykt_reply *r = NULL;
    size_t used = 0;
    CHECK(ykt_reply_parse(out.data, out.len, &r, &used) == YKT_OK && used == out.len);
    CHECK(req.failed == (r->type == YKT_REPLY_ERROR));
    ykt_reply_free(r);
    char *s = malloc(out.len + 1);
    CHECK(s != NULL);
    memcpy(s, out.data, out.len);
    s[out.len] = '\0';
    ykt_buf_free(&out);
    return s;
}

/* Errors a request can only get after its cryptogram matched. A PAY's refusals write
 * nothing (it takes the card's ATC only once it will pay), so a signed PAY refused for the
 * balance or a limit shows it authenticated by its error alone. CAPTURE's LIMIT_EXCEEDED,
 * which has no cryptogram, needs a hold: only a signed HOLD makes one, and none is signed
 * here. */
static bool past_cryptogram(const char *reply)
{
    static const char *const codes[] = {
        "-CLOCK_SKEW ",         "-REPLAY ",         "-CARD_LOST ",
        "-CARD_FROZEN ",        "-CARD_EXPIRED ",   "-CARD_CANCELLED ",
        "-INSUFFICIENT_FUNDS ", "-LIMIT_EXCEEDED ", "-PIN_REQUIRED "};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strncmp(reply, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

static bool authenticated(const char *reply)
{
    return foreign_writes > 0 || past_cryptogram(reply) || reply[0] != '-';
}

static bool is_card_verb(const char *name, size_t len)
{
    static const char *const verbs[] = {
        "CARD.INFO", "CARD.PASSWD", "CARD.REPORT_LOSS", "PAY", "PAY.OFFLINE", "HOLD", "TOPUP"};
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (strlen(verbs[i]) == len && strncasecmp(verbs[i], name, len) == 0)
            return true;
    return false;
}

/* AUTH and QUIT act on the connection, which a request here does not have (the e2e tests
 * and test_verbs cover them); every other verb goes through. */
static bool needs_connection(const char *verb, size_t len)
{
    return len == 4 && (strncasecmp(verb, "AUTH", 4) == 0 || strncasecmp(verb, "QUIT", 4) == 0);
}

static void raw_mode(ykt_terminal *term, const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS];
    size_t argl[MAX_ARGS];
    int argc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t n = i - start;
        /* Each argument in an allocation of its own, NUL-terminated as the parser leaves it. */
        argv[argc] = malloc(n + 1);
        CHECK(argv[argc] != NULL);
        memcpy(argv[argc], data + start, n);
        argv[argc][n] = '\0';
        argl[argc++] = n;
        start = i + 1;
    }
    if (argc > 0 && needs_connection(argv[0], argl[0])) {
        for (int i = 0; i < argc; i++)
            free(argv[i]);
        return;
    }
    char *reply = dispatch(term, argc, argv, argl);
    bool card_verb = argc > 0 && is_card_verb(argv[0], argl[0]);
    if (foreign_writes > 0 || past_cryptogram(reply) || (card_verb && reply[0] != '-')) {
        fprintf(stderr, "a made-up request was accepted (wrote %d rows, first in %s): %s\n",
                foreign_writes, foreign_table, reply);
        CHECK(0);
    }
    free(reply);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

/* Parses argv as a card request without a database (errors go to a scratch buffer). */
static bool presented(int argc, char **argv, size_t *argl, ykt_presented *p)
{
    ykt_buf out;
    ykt_buf_init(&out);
    ykt_req req;
    memset(&req, 0, sizeof req);
    req.gw = &gw;
    req.argc = argc;
    req.argv = argv;
    req.argl = argl;
    req.out = &out;
    bool ok = ykt_presented_parse(&req, p);
    CHECK(ok != req.replied);
    ykt_buf_free(&out);
    return ok;
}

/* PAY.OFFLINE (verbs are case-insensitive) uploads a sale the card signed as PAY while the
 * terminal was offline (docs/protocol.md): the same cryptogram authenticates it, by design. */
static bool offline_upload_of(const char *verb, size_t len, const char *signed_as)
{
    return strcmp(signed_as, "PAY") == 0 && len == strlen("PAY.OFFLINE") &&
           strncasecmp(verb, "PAY.OFFLINE", len) == 0;
}

static void signed_mode(uint8_t sel, const uint8_t *data, size_t size)
{
    static const struct {
        const char *verb;
        int term;
    } kinds[3] = {{"CARD.INFO", 0}, {"PAY", 0}, {"TOPUP", 1}};
    uint8_t how = fuzz_take(&data, &size);
    uint8_t amount_byte = fuzz_take(&data, &size);
    int kind = (sel >> 2) % 3;
    int tamper = how % 8; /* 0: none; 1..6: argv[tamper]; 7: the verb name */
    ykt_terminal *term = &terms[kinds[kind].term];

    ykt_card card;
    CHECK(ykt_store_card_by_uid(gw.db, CARD_UID, &card) == YKT_OK);
    ykt_cryptogram_input in = {
        .terminal_id = term->id,
        .terminal_seq = 1000 + how,
        .uid_len = 7,
        .atc = (uint32_t)card.atc + 1,
        .operation = kinds[kind].verb,
        .amount = kind == 0 ? 0 : 1 + amount_byte,
        .time_ms = ykt_now_ms(),
    };
    CHECK(ykt_hex_decode(CARD_UID, in.uid, 7) == YKT_OK);
    uint8_t key[16], mac[8];
    CHECK(ykt_card_key(gw.master_key, in.uid, in.uid_len, YKT_MEDIUM_CARD,
                       (const uint8_t *)gw.cfg.campus_code, strlen(gw.cfg.campus_code),
                       key) == YKT_OK);
    CHECK(ykt_cryptogram_compute(key, &in, mac) == YKT_OK);

    char fields[7][64];
    snprintf(fields[0], sizeof fields[0], "%s", in.operation);
    snprintf(fields[1], sizeof fields[1], "%llu", (unsigned long long)in.terminal_seq);
    snprintf(fields[2], sizeof fields[2], "%s", CARD_UID);
    snprintf(fields[3], sizeof fields[3], "%u", in.atc);
    snprintf(fields[4], sizeof fields[4], "%lld", (long long)in.time_ms);
    snprintf(fields[5], sizeof fields[5], "%lld", (long long)in.amount);
    for (int i = 0; i < 8; i++)
        snprintf(fields[6] + 2 * i, 3, "%02x", mac[i]);
    char *argv[7], *orig[7];
    size_t argl[7], origl[7];
    for (int i = 0; i < 7; i++) {
        orig[i] = fields[i];
        origl[i] = strlen(fields[i]);
        argv[i] = strdup(fields[i]);
        argl[i] = origl[i];
    }
    int idx = tamper == 7 ? 0 : tamper;
    if (tamper != 0) {
        free(argv[idx]);
        argv[idx] = malloc(size + 1);
        CHECK(argv[idx] != NULL);
        memcpy(argv[idx], data, size);
        argv[idx][size] = '\0';
        argl[idx] = size;
    }
    if (needs_connection(argv[0], argl[0])) {
        for (int i = 0; i < 7; i++)
            free(argv[i]);
        return;
    }
    char *reply = dispatch(term, 7, argv, argl);
    bool auth = authenticated(reply);
    if (tamper == 0 && !auth) {
        fprintf(stderr, "a correctly signed %s was refused: %s\n", in.operation, reply);
        CHECK(0);
    }
    if (tamper != 0 && auth) {
        /* Accepted: then every field the cryptogram binds must read as it was signed. */
        ykt_presented want, got;
        CHECK(presented(7, orig, origl, &want));
        bool same = presented(7, argv, argl, &got) && got.seq == want.seq &&
                    got.uid_len == want.uid_len && memcmp(got.uid, want.uid, got.uid_len) == 0 &&
                    got.atc == want.atc && got.time_ms == want.time_ms &&
                    got.amount == want.amount && memcmp(got.mac, want.mac, 8) == 0 &&
                    ((argl[0] == origl[0] && memcmp(argv[0], orig[0], argl[0]) == 0) ||
                     offline_upload_of(argv[0], argl[0], orig[0]));
        if (!same) {
            fprintf(stderr, "argument %d changed and the request still authenticated: %s\n", idx,
                    reply);
            CHECK(0);
        }
    }
    free(reply);
    for (int i = 0; i < 7; i++)
        free(argv[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take(&data, &size);
    if (sel & 0x80)
        signed_mode(sel, data, size);
    else
        raw_mode(&terms[sel & 3], data, size);
    return 0;
}
