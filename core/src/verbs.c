#include "verbs.h"
#include "cardcache.h"
#include "common.h"
#include "log.h"
#include "map.h"
#include "secret.h"
#include "store/store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

struct ykt_verbs {
    ykt_map *by_name;
};

ykt_verbs *ykt_verbs_new(void)
{
    ykt_verbs *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->by_name = ykt_map_new();
    return v;
}

void ykt_verbs_free(ykt_verbs *v)
{
    if (v == NULL)
        return;
    size_t pos = 0;
    const char *key;
    void *val;
    while (ykt_map_next(v->by_name, &pos, &key, &val))
        free(val);
    ykt_map_free(v->by_name);
    free(v);
}

static bool valid_verb_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > YKT_VERB_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            return false;
    }
    return true;
}

int ykt_verbs_register(ykt_verbs *v, const char *name, ykt_verb_fn fn, unsigned types,
                       unsigned flags, const void *owner, const char *usage)
{
    if (!valid_verb_name(name) || fn == NULL || (types & YKT_TT_ALL) == 0)
        return YKT_EINVAL;
    if (flags & YKT_VERB_SEQ)
        flags |= YKT_VERB_WRITE;
    if (ykt_map_get(v->by_name, name) != NULL)
        return YKT_EEXIST;
    ykt_verb *verb = calloc(1, sizeof *verb);
    if (verb == NULL)
        return YKT_ENOMEM;
    ykt_strlcpy(verb->name, name, sizeof verb->name);
    verb->fn = fn;
    verb->types = types & YKT_TT_ALL;
    verb->flags = flags;
    verb->owner = owner;
    verb->usage = usage ? usage : name;
    ykt_map_put(v->by_name, verb->name, verb);
    return YKT_OK;
}

int ykt_verbs_register_plugin(ykt_verbs *v, const char *name,
                              void (*handler)(ykt_req *req, void *userdata), void *userdata,
                              unsigned types, unsigned flags, const void *owner, const char *usage)
{
    if (handler == NULL)
        return YKT_EINVAL;
    /* Registered with a placeholder handler, then given the plugin's. */
    int rc = ykt_verbs_register(v, name, (ykt_verb_fn)(void (*)(void))handler, types, flags, owner,
                                usage);
    if (rc != YKT_OK)
        return rc;
    ykt_verb *verb = ykt_map_get(v->by_name, name);
    verb->fn = NULL;
    verb->pfn = handler;
    verb->userdata = userdata;
    return YKT_OK;
}

int ykt_verbs_unregister_owner(ykt_verbs *v, const void *owner)
{
    /* Collect first: deleting while iterating would skip entries. */
    char names[256][YKT_VERB_NAME_MAX + 1];
    int removed = 0, n;
    do {
        n = 0;
        size_t pos = 0;
        const char *key;
        void *val;
        while (n < 256 && ykt_map_next(v->by_name, &pos, &key, &val))
            if (((ykt_verb *)val)->owner == owner && owner != NULL)
                ykt_strlcpy(names[n++], key, sizeof names[0]);
        for (int i = 0; i < n; i++)
            free(ykt_map_del(v->by_name, names[i]));
        removed += n;
    } while (n == 256);
    return removed;
}

const ykt_verb *ykt_verbs_find(ykt_verbs *v, const char *name, size_t len)
{
    char upper[YKT_VERB_NAME_MAX + 1];
    if (len == 0 || len > YKT_VERB_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < len; i++)
        upper[i] = (char)toupper((unsigned char)name[i]);
    upper[len] = '\0';
    if (memchr(name, '\0', len) != NULL)
        return NULL;
    return ykt_map_get(v->by_name, upper);
}

const ykt_verb *ykt_verbs_next(ykt_verbs *v, size_t *pos)
{
    const char *key;
    void *val;
    return ykt_map_next(v->by_name, pos, &key, &val) ? val : NULL;
}

/* Copies a client-supplied word for an error message: printable ASCII only, bounded. */
static void printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < outlen; i++)
        out[j++] = (s[i] > 32 && s[i] < 127) ? s[i] : '?';
    if (len > 0 && j + 4 >= outlen) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

/* A digest of the whole request, to tell a retry from a different request reusing a seq. */
void ykt_verbs_request_digest(const ykt_req *req, uint8_t out[16])
{
    mbedtls_sha256_context ctx;
    uint8_t full[32];
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    for (int i = 0; i < req->argc; i++) {
        uint8_t len[8];
        uint64_t n = req->argl[i];
        for (int b = 0; b < 8; b++)
            len[b] = (uint8_t)(n >> (56 - 8 * b));
        mbedtls_sha256_update_ret(&ctx, len, sizeof len);
        mbedtls_sha256_update_ret(&ctx, (const unsigned char *)req->argv[i], req->argl[i]);
    }
    mbedtls_sha256_finish_ret(&ctx, full);
    mbedtls_sha256_free(&ctx);
    memcpy(out, full, 16);
}

/* The reply to keep for (terminal, seq), or NULL when none is kept: no seq, no reply, or
 * a transient failure (once storage or the rule is fixed, the retry should succeed). */
static const char *outcome_to_keep(const ykt_req *req, size_t reply_start, size_t *len)
{
    if (req->seq <= 0 || req->term == NULL)
        return NULL;
    const char *reply = req->out->data + reply_start;
    size_t n = req->out->len - reply_start;
    if (n == 0 || (n > 14 && strncmp(reply, "-STORAGE_ERROR", 14) == 0) ||
        (n > 9 && strncmp(reply, "-INTERNAL", 9) == 0) ||
        (n > 11 && strncmp(reply, "-RULE_ERROR", 11) == 0))
        return NULL;
    *len = n;
    return reply;
}

static int put_outcome(ykt_req *req, const char *reply, size_t len)
{
    uint8_t digest[16];
    ykt_verbs_request_digest(req, digest);
    /* With its outcome kept, a request has completed: its card no longer names it (in the
     * same savepoint, so the two go together), and a copy of it is a replay from now on. */
    if (req->atc_marked) {
        int rc = ykt_cardcache_unmark_atc(req->gw->cards, req->gw->db, req->atc_uid, req->atc_card,
                                          req->term->id, req->seq);
        if (rc != YKT_OK)
            return rc;
    }
    return ykt_store_request_put(req->gw->db, req->term->id, req->seq, digest, reply, len,
                                 ykt_now_ms());
}

void ykt_verbs_record_outcome(ykt_req *req, size_t reply_start)
{
    size_t len;
    const char *reply = outcome_to_keep(req, reply_start, &len);
    if (reply == NULL)
        return;
    ykt_db *db = req->gw->db;
    if (ykt_db_cmd_begin(db) != YKT_OK)
        return; /* the batch is failing: every reply becomes STORAGE_ERROR anyway */
    int rc = put_outcome(req, reply, len);
    ykt_db_cmd_end(db, rc == YKT_OK);
}

/*
 * Ends a write request's savepoint (keep: its changes stay) and keeps its outcome. When the
 * changes stay, the outcome goes into the same savepoint: one SAVEPOINT/RELEASE pair; if it
 * cannot be kept, the savepoint is rolled back with the changes. When they are undone, the
 * outcome is kept in a savepoint of its own after the rollback.
 */
void ykt_verbs_end_write(ykt_req *req, size_t reply_start, bool keep)
{
    ykt_db *db = req->gw->db;
    size_t len;
    const char *reply = outcome_to_keep(req, reply_start, &len);
    if (keep && reply != NULL && ykt_db_in_cmd(db) && !ykt_db_batch_failed(db) &&
        !sqlite3_get_autocommit(ykt_db_handle(db))) {
        int rc = put_outcome(req, reply, len);
        if (rc == YKT_OK) {
            ykt_db_cmd_end(db, true);
            return;
        }
        /* Kept without its outcome, the request would run again when retried: it is undone
         * and answered STORAGE_ERROR, which is not kept, so the retry runs it once. An
         * outcome already kept (YKT_EEXIST) means it ran twice: undone too. */
        if (rc == YKT_EEXIST)
            ykt_error("terminal %s: seq %lld ran though its outcome was kept; undone",
                      req->term->id, (long long)req->seq);
        ykt_db_cmd_end(db, false);
        req->out->len = reply_start;
        req->replied = false;
        ykt_reply_error(req, "STORAGE_ERROR",
                        "the outcome of this request could not be kept; it was undone");
        return;
    }
    bool failed_before = ykt_db_batch_failed(db);
    ykt_db_cmd_end(db, keep);
    if (!failed_before && ykt_db_batch_failed(db) && req->term != NULL)
        ykt_error("terminal %s: %s seq %lld failed after it wrote; its batch is undone",
                  req->term->id, req->argv[0], (long long)req->seq);
    ykt_verbs_record_outcome(req, reply_start);
}

void ykt_verbs_mark_waiting(ykt_req *req)
{
    if (!req->write || req->atc_card[0] == '\0' || req->atc_marked || req->seq <= 0 ||
        req->term == NULL || !ykt_db_in_cmd(req->gw->db))
        return;
    uint8_t digest[16];
    ykt_verbs_request_digest(req, digest);
    if (ykt_cardcache_mark_atc(req->gw->cards, req->gw->db, req->atc_uid, req->atc_card,
                               req->term->id, req->seq, digest) == YKT_OK)
        req->atc_marked = true;
    else
        ykt_warn("card %s: cannot note that terminal %s seq %lld waits; a retry of it will be "
                 "refused REPLAY",
                 req->atc_card, req->term->id, (long long)req->seq);
}

/* Answers a retried (terminal, seq) from its kept outcome. Returns true when it replied. */
static bool replay_outcome(ykt_req *req)
{
    int64_t seq;
    if (req->argc < 2 || strlen(req->argv[1]) != req->argl[1] ||
        ykt_parse_int64(req->argv[1], 1, INT64_MAX, &seq) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "%s needs a sequence number >= 1 as its first argument",
                        req->argv[0]);
        return true;
    }
    /* Terminals number their requests upwards: a seq above every one kept so far is new,
     * and needs no lookup (3 % of a door decision). A seq at or below it is looked up. */
    ykt_terminal *t = req->term;
    if (!t->seq_floor_known) {
        /* Unread, nothing may run: a floor read later could miss what runs meanwhile. */
        int frc = ykt_store_request_max_seq(req->gw->db, t->id, &t->seq_floor);
        if (frc != YKT_OK) {
            ykt_reply_internal(req, frc);
            return true;
        }
        t->seq_floor_known = true;
    }
    if (t->seq_floor_known && seq > t->seq_floor) {
        t->seq_floor = seq;
        req->seq = seq;
        req->seq_new = true;
        return false;
    }
    /* The same seq still waiting beside the loop (a password check): it has run in part
     * and its outcome is not kept yet. Run again, this copy would find the card's ATC
     * taken and keep a refusal as the outcome the first one's retries get. */
    if (ykt_terminal_seq_waiting(t, seq)) {
        ykt_reply_error(req, "IN_PROGRESS",
                        "sequence number %lld of terminal %s is still being processed; retry "
                        "for its reply",
                        (long long)seq, t->id);
        return true;
    }
    ykt_buf stored;
    ykt_buf_init(&stored);
    uint8_t kept[16], digest[16];
    int rc = ykt_store_request_get(req->gw->db, t->id, seq, kept, &stored);
    if (rc == YKT_ENOTFOUND) {
        req->seq = seq;
        ykt_buf_free(&stored);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
    } else {
        ykt_verbs_request_digest(req, digest);
        if (!ykt_ct_equal(kept, digest, sizeof kept)) {
            ykt_reply_error(req, "SEQ_REUSED",
                            "sequence number %lld of terminal %s was used for another request",
                            (long long)seq, req->term->id);
        } else {
            /* The first outcome, byte for byte; nothing runs a second time. */
            req->replied = true;
            req->failed = stored.len > 0 && stored.data[0] == '-';
            ykt_buf_append(req->out, stored.data, stored.len);
            ykt_debug("terminal %s: seq %lld answered from its kept outcome", req->term->id,
                      (long long)seq);
        }
    }
    ykt_buf_free(&stored);
    return true;
}

static void run(ykt_req *req, const ykt_verb *v)
{
    ykt_db *db = req->gw->db;
    req->write = (v->flags & YKT_VERB_WRITE) != 0;
    if ((v->flags & YKT_VERB_SEQ) && req->term != NULL && replay_outcome(req))
        return;
    /* Unguarded only with a new seq: at or below the terminal's highest (an outcome pruned,
     * or never kept), the payment's own (terminal, seq) may exist already, and its INSERT
     * would fail after the payment wrote (payments_once). */
    bool unguarded = (v->flags & YKT_VERB_UNGUARDED) && req->seq_new;
    if (req->write &&
        (unguarded ? ykt_db_cmd_begin_unguarded(db) : ykt_db_cmd_begin(db)) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    size_t start = req->out->len;
    if (v->pfn != NULL)
        v->pfn(req, v->userdata);
    else
        v->fn(req);
    if (req->deferred) {
        if (req->write)
            ykt_db_cmd_end(db, true); /* what it wrote before (a card's ATC) stays */
        return;
    }
    if (!req->replied) {
        ykt_error("verb %s returned without a reply", v->name);
        ykt_reply_internal(req, YKT_ESTATE);
    }
    if (req->write)
        ykt_verbs_end_write(req, start, !req->failed || req->keep_changes);
    else
        ykt_verbs_record_outcome(req, start);
}

void ykt_verbs_dispatch(ykt_req *req)
{
    if (req->argc == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "empty request");
        return;
    }
    const ykt_verb *v = ykt_verbs_find(req->gw->verbs, req->argv[0], req->argl[0]);
    ykt_terminal *t = req->term;
    if (t == NULL) {
        if (v == NULL || !(v->flags & YKT_VERB_PREAUTH)) {
            ykt_reply_error(req, "NOAUTH", "authenticate first: AUTH <terminal-id> <secret>");
            return;
        }
        run(req, v);
        return;
    }
    if (t->status != YKT_TS_ENABLED) {
        ykt_reply_error(req, "NOAUTH", "terminal %s is %s", t->id,
                        ykt_terminal_status_name(t->status));
        return;
    }
    ykt_terminal_touch(t, ykt_now_ms());
    if (v == NULL) {
        char word[40];
        printable(req->argv[0], req->argl[0], word, sizeof word);
        ykt_reply_error(req, "BAD_REQUEST", "unknown verb '%s'", word);
        return;
    }
    if (!(v->types & t->type)) {
        ykt_reply_error(req, "FORBIDDEN", "%s is not allowed for %s terminals", v->name,
                        ykt_terminal_type_name(t->type));
        return;
    }
    /* Every argument of every verb is text: ids, numbers, hex, a health detail. Bytes that
     * are not UTF-8 (or a NUL) would reach the database and the logs as they came. */
    for (int i = 1; i < req->argc; i++) {
        if (memchr(req->argv[i], '\0', req->argl[i]) != NULL ||
            ykt_utf8_bad_offset((const unsigned char *)req->argv[i], req->argl[i]) !=
                req->argl[i]) {
            ykt_reply_error(req, "BAD_REQUEST", "argument %d of %s is not UTF-8 text", i, v->name);
            return;
        }
    }
    run(req, v);
}
