/* Unit tests for core/src/verbs.c: the verb table and ykt_verbs_dispatch. */
#include "test.h"

#include "common.h"
#include "db.h"
#include "gateway.h"
#include "request.h"
#include "store/store.h"
#include "terminal.h"
#include "util.h"
#include "verbs.h"

#include <stdbool.h>
#include <unistd.h>

/* ---- handlers ---- */

static int calls;

static void verb_ok(ykt_req *req)
{
    calls++;
    ykt_reply_status(req, "DONE");
}

static void verb_other(ykt_req *req)
{
    calls++;
    ykt_reply_int(req, req->argc);
}

static void add_row(ykt_req *req, const char *action)
{
    ykt_audit_row row = {.at = ykt_now_ms(),
                         .operator_name = "test",
                         .role = "operator",
                         .action = action,
                         .target = req->term ? req->term->id : "",
                         .detail = "",
                         .approval = ""};
    ASSERT(ykt_db_in_cmd(req->gw->db));
    ASSERT_EQ(ykt_store_audit_append(req->gw->db, &row), YKT_OK);
}

static void verb_write_fails(ykt_req *req)
{
    calls++;
    ASSERT(req->write);
    add_row(req, "write-fails");
    ykt_reply_error(req, "LIMIT_EXCEEDED", "refused after writing");
}

static void verb_write_ok(ykt_req *req)
{
    calls++;
    ASSERT(req->write);
    add_row(req, "write-ok");
    ykt_reply_ok(req);
}

static void verb_write_keeps(ykt_req *req)
{
    calls++;
    add_row(req, "write-keeps");
    req->keep_changes = true;
    ykt_reply_error(req, "BAD_CRYPTOGRAM", "refusal recorded");
}

static void verb_write_no_reply(ykt_req *req)
{
    calls++;
    add_row(req, "write-no-reply");
}

static void verb_read(ykt_req *req)
{
    calls++;
    ASSERT(!req->write);
    ASSERT(!ykt_db_in_cmd(req->gw->db));
    ykt_reply_ok(req);
}

/* ---- table ---- */

static void test_register_names(void)
{
    ykt_verbs *v = ykt_verbs_new();
    ASSERT_EQ(ykt_verbs_register(v, "PAY", verb_ok, YKT_TT_POS, 0, NULL, NULL), YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "DOOR.ENTER", verb_ok, YKT_TT_GATE, 0, NULL, NULL), YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "LIB_2.BORROW_1", verb_ok, YKT_TT_ALL, 0, NULL, "usage"),
              YKT_OK);
    /* 31 characters is the longest name. */
    ASSERT_EQ(ykt_verbs_register(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", verb_ok, YKT_TT_ALL, 0, NULL,
                                 NULL),
              YKT_OK);
    static const char *const bad[] = {
        "",
        "pay",
        "Pay",
        ".PAY",
        "PAY.",
        "PAY ME",
        "PAY-ME",
        "PAY\t",
        "PAY!",
        "\xc3\x9c"
        "BER",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        if (ykt_verbs_register(v, bad[i], verb_ok, YKT_TT_ALL, 0, NULL, NULL) != YKT_EINVAL) {
            fprintf(stderr, "verb name '%s' accepted\n", bad[i]);
            ASSERT(0);
        }
    }
    /* No handler, or no terminal type, is refused too. */
    ASSERT_EQ(ykt_verbs_register(v, "NOFN", NULL, YKT_TT_ALL, 0, NULL, NULL), YKT_EINVAL);
    ASSERT_EQ(ykt_verbs_register(v, "NOTYPE", verb_ok, 0, 0, NULL, NULL), YKT_EINVAL);
    ASSERT_EQ(ykt_verbs_register(v, "BADTYPE", verb_ok, 1u << 20, 0, NULL, NULL), YKT_EINVAL);
    /* Duplicates, whoever registers them. */
    static const int plugin;
    ASSERT_EQ(ykt_verbs_register(v, "PAY", verb_other, YKT_TT_ALL, 0, &plugin, NULL), YKT_EEXIST);
    const ykt_verb *pay = ykt_verbs_find(v, "PAY", 3);
    ASSERT(pay != NULL);
    ASSERT(pay->fn == verb_ok);
    ASSERT_EQ(pay->types, YKT_TT_POS);
    ASSERT(pay->owner == NULL);
    ASSERT_STREQ(pay->usage, "PAY");
    ASSERT_STREQ(ykt_verbs_find(v, "lib_2.borrow_1", 14)->usage, "usage");

    /* Iteration sees each verb once. */
    size_t pos = 0;
    int n = 0;
    const ykt_verb *e;
    while ((e = ykt_verbs_next(v, &pos)) != NULL)
        n++;
    ASSERT_EQ(n, 4);
    ykt_verbs_free(v);
    ykt_verbs_free(NULL);
}

static void test_find_case_insensitive(void)
{
    ykt_verbs *v = ykt_verbs_new();
    ASSERT_EQ(ykt_verbs_register(v, "DOOR.ENTER", verb_ok, YKT_TT_GATE, 0, NULL, NULL), YKT_OK);
    const ykt_verb *want = ykt_verbs_find(v, "DOOR.ENTER", 10);
    ASSERT(want != NULL);
    ASSERT_STREQ(want->name, "DOOR.ENTER");
    ASSERT(ykt_verbs_find(v, "door.enter", 10) == want);
    ASSERT(ykt_verbs_find(v, "Door.Enter", 10) == want);
    /* Only len bytes count: the name need not be NUL-terminated. */
    ASSERT(ykt_verbs_find(v, "door.enterXYZ", 10) == want);
    ASSERT(ykt_verbs_find(v, "door.ente", 9) == NULL);
    ASSERT(ykt_verbs_find(v, "door.enter", 0) == NULL);
    /* An embedded NUL never matches a shorter name. */
    ASSERT(ykt_verbs_find(v, "DOOR.ENTER\0X", 12) == NULL);
    ASSERT(ykt_verbs_find(v, "DOOR\0ENTER", 10) == NULL);
    char longname[64];
    memset(longname, 'A', sizeof longname);
    ASSERT(ykt_verbs_find(v, longname, sizeof longname) == NULL);
    ykt_verbs_free(v);
}

static void test_unregister_owner(void)
{
    ykt_verbs *v = ykt_verbs_new();
    static const int plugin_a, plugin_b;
    ASSERT_EQ(ykt_verbs_register(v, "PING", verb_ok, YKT_TT_ALL, 0, NULL, NULL), YKT_OK);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "A.V%d", i);
        ASSERT_EQ(ykt_verbs_register(v, name, verb_ok, YKT_TT_ALL, 0, &plugin_a, NULL), YKT_OK);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "B.V%d", i);
        ASSERT_EQ(ykt_verbs_register(v, name, verb_other, YKT_TT_ALL, 0, &plugin_b, NULL), YKT_OK);
    }
    /* More than the 256 names collected per round are all removed. */
    ASSERT_EQ(ykt_verbs_unregister_owner(v, &plugin_a), 300);
    ASSERT_EQ(ykt_verbs_unregister_owner(v, &plugin_a), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "A.V%d", i);
        ASSERT(ykt_verbs_find(v, name, strlen(name)) == NULL);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "B.V%d", i);
        const ykt_verb *e = ykt_verbs_find(v, name, strlen(name));
        ASSERT(e != NULL);
        ASSERT(e->owner == &plugin_b);
    }
    /* The core's verbs (owner NULL) are never removed this way. */
    ASSERT_EQ(ykt_verbs_unregister_owner(v, NULL), 0);
    ASSERT(ykt_verbs_find(v, "PING", 4) != NULL);
    /* A name freed by an unregistered plugin can be registered again. */
    ASSERT_EQ(ykt_verbs_register(v, "A.V7", verb_other, YKT_TT_POS, 0, &plugin_b, NULL), YKT_OK);
    ASSERT_EQ(ykt_verbs_unregister_owner(v, &plugin_b), 6);
    size_t pos = 0;
    int n = 0;
    while (ykt_verbs_next(v, &pos) != NULL)
        n++;
    ASSERT_EQ(n, 1);
    ykt_verbs_free(v);
}

/* ---- dispatch ---- */

typedef struct fixture {
    ykt_gw gw;
    ykt_terminal gate;
    ykt_terminal pos;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->gw.verbs = ykt_verbs_new();
    /* A fresh database for each test. */
    static int ndb;
    char path[128], err[512] = "";
    snprintf(path, sizeof path, "%s/ykt-%d.db", test_tmpdir, ndb++);
    int rc = ykt_db_open(&f->gw.db, path, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "%s\n", err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_EQ(ykt_terminals_load(&f->gw.terminals, f->gw.db), YKT_OK);

    snprintf(f->gate.id, sizeof f->gate.id, "gate-1");
    f->gate.type = YKT_TT_GATE;
    f->gate.status = YKT_TS_ENABLED;
    snprintf(f->pos.id, sizeof f->pos.id, "pos-1");
    f->pos.type = YKT_TT_POS;
    f->pos.status = YKT_TS_ENABLED;

    ykt_verbs *v = f->gw.verbs;
    ASSERT_EQ(ykt_verbs_register(v, "PAY", verb_ok, YKT_TT_POS, 0, NULL, NULL), YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "OPEN", verb_other, YKT_TT_GATE | YKT_TT_KIOSK, 0, NULL, NULL),
              YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "READ", verb_read, YKT_TT_ALL, 0, NULL, NULL), YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "HELLO", verb_ok, YKT_TT_ALL, YKT_VERB_PREAUTH, NULL, NULL),
              YKT_OK);
    ASSERT_EQ(
        ykt_verbs_register(v, "W.FAIL", verb_write_fails, YKT_TT_ALL, YKT_VERB_WRITE, NULL, NULL),
        YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "W.OK", verb_write_ok, YKT_TT_ALL, YKT_VERB_WRITE, NULL, NULL),
              YKT_OK);
    ASSERT_EQ(
        ykt_verbs_register(v, "W.KEEP", verb_write_keeps, YKT_TT_ALL, YKT_VERB_WRITE, NULL, NULL),
        YKT_OK);
    ASSERT_EQ(ykt_verbs_register(v, "W.SILENT", verb_write_no_reply, YKT_TT_ALL, YKT_VERB_WRITE,
                                 NULL, NULL),
              YKT_OK);
    calls = 0;
}

static void fixture_free(fixture *f)
{
    ASSERT_EQ(ykt_db_batch_commit(f->gw.db), YKT_OK);
    ykt_terminals_free(f->gw.terminals);
    ykt_db_close(f->gw.db);
    ykt_verbs_free(f->gw.verbs);
}

/* Dispatches the words of line (split on spaces) as terminal term; returns the reply. */
static const char *dispatch(fixture *f, ykt_terminal *term, const char *line)
{
    static char reply[1024];
    char copy[256];
    char *argv[16];
    size_t argl[16];
    int argc = 0;
    snprintf(copy, sizeof copy, "%s", line);
    for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " ")) {
        ASSERT(argc < 16);
        argv[argc] = w;
        argl[argc] = strlen(w);
        argc++;
    }
    ykt_buf out;
    ykt_buf_init(&out);
    ykt_req req;
    memset(&req, 0, sizeof req);
    req.gw = &f->gw;
    req.conn = NULL;
    req.argc = argc;
    req.argv = argv;
    req.argl = argl;
    req.term = term;
    req.out = &out;
    ykt_verbs_dispatch(&req);
    ASSERT(req.replied);
    ASSERT(!ykt_db_in_cmd(f->gw.db));
    snprintf(reply, sizeof reply, "%s", ykt_buf_cstr(&out));
    ykt_buf_free(&out);
    return reply;
}

static void test_dispatch_allowed_and_forbidden(void)
{
    fixture f;
    fixture_init(&f);
    ASSERT_STREQ(dispatch(&f, &f.pos, "PAY 100"), "+DONE\r\n");
    ASSERT_EQ(calls, 1);
    /* Case-insensitive on the wire too. */
    ASSERT_STREQ(dispatch(&f, &f.pos, "pay 100"), "+DONE\r\n");
    ASSERT_EQ(calls, 2);
    ASSERT_STREQ(dispatch(&f, &f.gate, "PAY 100"),
                 "-FORBIDDEN PAY is not allowed for gate terminals\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "open a b"), ":3\r\n");
    ASSERT_STREQ(dispatch(&f, &f.pos, "OPEN"),
                 "-FORBIDDEN OPEN is not allowed for pos terminals\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "READ"), "+OK\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "HELLO"), "+DONE\r\n");
    ASSERT_EQ(calls, 5);
    fixture_free(&f);
}

static void test_dispatch_unknown_verb(void)
{
    fixture f;
    fixture_init(&f);
    ASSERT_STREQ(dispatch(&f, &f.gate, "FLY away"), "-BAD_REQUEST unknown verb 'FLY'\r\n");
    /* The echoed word is printable and bounded. */
    char line[80], want[128];
    memset(line, 'X', 74);
    line[74] = '\0';
    line[3] = '\x01';
    snprintf(want, sizeof want, "-BAD_REQUEST unknown verb 'XXX?%.32s...'\r\n", line + 4);
    ASSERT_STREQ(dispatch(&f, &f.gate, line), want);
    /* An empty request. */
    ASSERT_STREQ(dispatch(&f, &f.gate, ""), "-BAD_REQUEST empty request\r\n");
    ASSERT_EQ(calls, 0);
    fixture_free(&f);
}

static void test_dispatch_before_auth(void)
{
    fixture f;
    fixture_init(&f);
    const char *noauth = "-NOAUTH authenticate first: AUTH <terminal-id> <secret>\r\n";
    ASSERT_STREQ(dispatch(&f, NULL, "PAY 100"), noauth);
    ASSERT_STREQ(dispatch(&f, NULL, "READ"), noauth);
    ASSERT_STREQ(dispatch(&f, NULL, "W.OK"), noauth);
    /* An unknown verb says NOAUTH too, so an unauthenticated client learns nothing. */
    ASSERT_STREQ(dispatch(&f, NULL, "FLY"), noauth);
    ASSERT_EQ(calls, 0);
    /* Pre-auth verbs run. */
    ASSERT_STREQ(dispatch(&f, NULL, "hello"), "+DONE\r\n");
    ASSERT_EQ(calls, 1);
    fixture_free(&f);
}

static void test_dispatch_disabled_terminal(void)
{
    fixture f;
    fixture_init(&f);
    f.pos.status = YKT_TS_DISABLED;
    ASSERT_STREQ(dispatch(&f, &f.pos, "PAY 1"), "-NOAUTH terminal pos-1 is disabled\r\n");
    ASSERT_STREQ(dispatch(&f, &f.pos, "HELLO"), "-NOAUTH terminal pos-1 is disabled\r\n");
    f.pos.status = YKT_TS_REVOKED;
    ASSERT_STREQ(dispatch(&f, &f.pos, "PAY 1"), "-NOAUTH terminal pos-1 is revoked\r\n");
    ASSERT_EQ(calls, 0);
    /* Refused requests do not count as the terminal being seen. */
    ASSERT_EQ(f.pos.last_seen, 0);
    f.pos.status = YKT_TS_ENABLED;
    int64_t before = ykt_now_ms();
    ASSERT_STREQ(dispatch(&f, &f.pos, "PAY 1"), "+DONE\r\n");
    ASSERT(f.pos.last_seen >= before);
    ASSERT(f.pos.last_seen_dirty);
    fixture_free(&f);
}

static int64_t count_rows(ykt_db *db, const char *action)
{
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(ykt_db_handle(db), "SELECT count(*) FROM audit WHERE action = ?",
                                 -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_dispatch_write_savepoints(void)
{
    fixture f;
    fixture_init(&f);
    ykt_db *db = f.gw.db;
    /* Several requests in one batch: the refused one changes nothing, the others commit. */
    ASSERT_STREQ(dispatch(&f, &f.pos, "W.OK"), "+OK\r\n");
    ASSERT(ykt_db_batch_open(db));
    ASSERT_STREQ(dispatch(&f, &f.pos, "W.FAIL"), "-LIMIT_EXCEEDED refused after writing\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "W.OK"), "+OK\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "W.FAIL"), "-LIMIT_EXCEEDED refused after writing\r\n");
    /* keep_changes commits an error's writes (a refusal that must be recorded). */
    ASSERT_STREQ(dispatch(&f, &f.gate, "W.KEEP"), "-BAD_CRYPTOGRAM refusal recorded\r\n");
    /* A handler that forgets to reply gets an internal error, and its writes are undone. */
    ASSERT_STREQ(dispatch(&f, &f.gate, "W.SILENT"),
                 "-INTERNAL internal error (wrong state); nothing applied\r\n");
    /* A write verb refused before it runs opens nothing. */
    ASSERT_STREQ(dispatch(&f, NULL, "W.FAIL"),
                 "-NOAUTH authenticate first: AUTH <terminal-id> <secret>\r\n");
    ASSERT_EQ(calls, 6);
    ASSERT(!ykt_db_batch_failed(db));
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(count_rows(db, "write-ok"), 2);
    ASSERT_EQ(count_rows(db, "write-fails"), 0);
    ASSERT_EQ(count_rows(db, "write-keeps"), 1);
    ASSERT_EQ(count_rows(db, "write-no-reply"), 0);

    /* A read-only verb opens no batch. */
    ASSERT_STREQ(dispatch(&f, &f.pos, "READ"), "+OK\r\n");
    ASSERT(!ykt_db_batch_open(db));
    fixture_free(&f);
}

static void test_core_verbs_without_connection(void)
{
    fixture f;
    fixture_init(&f);
    ASSERT_EQ(ykt_core_verbs_register(f.gw.verbs), YKT_OK);
    /* Registering them twice fails: the names are taken. */
    ASSERT_EQ(ykt_core_verbs_register(f.gw.verbs), YKT_EINVAL);
    ASSERT_STREQ(dispatch(&f, NULL, "PING"), "+PONG\r\n");
    ASSERT_STREQ(dispatch(&f, NULL, "ping hello"), "$5\r\nhello\r\n");
    ASSERT_STREQ(dispatch(&f, NULL, "PING a b"), "-BAD_REQUEST usage: PING [message]\r\n");
    ASSERT_STREQ(dispatch(&f, NULL, "TIME"),
                 "-NOAUTH authenticate first: AUTH <terminal-id> <secret>\r\n");
    int64_t before = ykt_now_ms();
    const char *r = dispatch(&f, &f.gate, "TIME");
    ASSERT_EQ(r[0], ':');
    int64_t t = strtoll(r + 1, NULL, 10);
    ASSERT(t >= before && t <= ykt_now_ms());

    /* HEALTH writes in the batch: the terminal must exist in the database. */
    ykt_terminal stored = f.gate;
    snprintf(stored.secret_hash, sizeof stored.secret_hash, "x");
    ASSERT_EQ(ykt_store_terminal_insert(f.gw.db, &stored), YKT_OK);
    ASSERT_STREQ(dispatch(&f, &f.gate, "HEALTH degraded paper"), "+OK\r\n");
    ASSERT_STREQ(dispatch(&f, &f.gate, "HEALTH broken"),
                 "-BAD_REQUEST health must be ok, degraded or fault\r\n");
    ASSERT_EQ(ykt_db_batch_commit(f.gw.db), YKT_OK);
    ASSERT_STREQ(f.gate.health, "degraded");
    ASSERT_STREQ(f.gate.health_detail, "paper");
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(ykt_db_handle(f.gw.db),
                                 "SELECT health, health_detail FROM terminals WHERE id = 'gate-1'",
                                 -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "degraded");
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 1), "paper");
    sqlite3_finalize(st);
    fixture_free(&f);
}

int main(void)
{
    printf("test_verbs\n");
    test_tmpdir_create("test-verbs");
    RUN(test_register_names);
    RUN(test_find_case_insensitive);
    RUN(test_unregister_owner);
    RUN(test_dispatch_allowed_and_forbidden);
    RUN(test_dispatch_unknown_verb);
    RUN(test_dispatch_before_auth);
    RUN(test_dispatch_disabled_terminal);
    RUN(test_dispatch_write_savepoints);
    RUN(test_core_verbs_without_connection);
    printf("ok\n");
    return 0;
}
