/* SQL for cards, card events, the blacklist version and terminal request outcomes. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

#define CARD_COLUMNS                                                                               \
    "card_no, uid, person_id, medium, type, status, valid_until, subsystems, merchants, atc, "     \
    "list_version, issued_at, issued_by, fee, coalesce(replaces, ''), "                            \
    "coalesce(replaced_by, ''), status_reason, status_at, coalesce(atc_terminal, ''), "            \
    "coalesce(atc_seq, 0), atc_digest, rowid"

static void read_card(sqlite3_stmt *st, ykt_card *c)
{
    memset(c, 0, sizeof *c);
    ykt_strlcpy(c->card_no, col_text(st, 0), sizeof c->card_no);
    ykt_strlcpy(c->uid, col_text(st, 1), sizeof c->uid);
    c->person_id = sqlite3_column_int64(st, 2);
    ykt_strlcpy(c->medium, col_text(st, 3), sizeof c->medium);
    ykt_strlcpy(c->type, col_text(st, 4), sizeof c->type);
    ykt_strlcpy(c->status, col_text(st, 5), sizeof c->status);
    ykt_strlcpy(c->valid_until, col_text(st, 6), sizeof c->valid_until);
    ykt_strlcpy(c->subsystems, col_text(st, 7), sizeof c->subsystems);
    ykt_strlcpy(c->merchants, col_text(st, 8), sizeof c->merchants);
    c->atc = sqlite3_column_int64(st, 9);
    c->list_version = sqlite3_column_int64(st, 10);
    c->issued_at = sqlite3_column_int64(st, 11);
    ykt_strlcpy(c->issued_by, col_text(st, 12), sizeof c->issued_by);
    c->fee = sqlite3_column_int64(st, 13);
    ykt_strlcpy(c->replaces, col_text(st, 14), sizeof c->replaces);
    ykt_strlcpy(c->replaced_by, col_text(st, 15), sizeof c->replaced_by);
    ykt_strlcpy(c->status_reason, col_text(st, 16), sizeof c->status_reason);
    c->status_at = sqlite3_column_int64(st, 17);
    ykt_strlcpy(c->atc_terminal, col_text(st, 18), sizeof c->atc_terminal);
    c->atc_seq = sqlite3_column_int64(st, 19);
    if (sqlite3_column_bytes(st, 20) == (int)sizeof c->atc_digest)
        memcpy(c->atc_digest, sqlite3_column_blob(st, 20), sizeof c->atc_digest);
    c->rowid = sqlite3_column_int64(st, 21);
}

static int get_card(sqlite3_stmt *st, ykt_card *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_card(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_card_by_no(ykt_db *db, const char *card_no, ykt_card *out)
{
    STMT_OR_FAIL(st, db, "SELECT " CARD_COLUMNS " FROM cards WHERE card_no = ?");
    bind_text(st, 1, card_no);
    return get_card(st, out);
}

int ykt_store_card_by_uid(ykt_db *db, const char *uid, ykt_card *out)
{
    STMT_OR_FAIL(st, db, "SELECT " CARD_COLUMNS " FROM cards WHERE uid = ?");
    bind_text(st, 1, uid);
    return get_card(st, out);
}

int ykt_store_card_live(ykt_db *db, int64_t person_id, const char *medium, ykt_card *out)
{
    STMT_OR_FAIL(st, db,
                 "SELECT " CARD_COLUMNS " FROM cards WHERE person_id = ? AND medium = ? "
                 "AND status <> 'cancelled'");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, medium);
    return get_card(st, out);
}

int ykt_store_card_count_for_person(ykt_db *db, int64_t person_id, int64_t *count)
{
    STMT_OR_FAIL(st, db, "SELECT count(*) FROM cards WHERE person_id = ? AND medium = 'card'");
    bind_i64(st, 1, person_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_card_insert(ykt_db *db, const ykt_card *c)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO cards (card_no, uid, person_id, medium, type, status, valid_until, "
                 "subsystems, merchants, atc, list_version, issued_at, issued_by, fee, replaces, "
                 "status_reason, status_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)");
    bind_text(st, 1, c->card_no);
    bind_text(st, 2, c->uid);
    bind_i64(st, 3, c->person_id);
    bind_text(st, 4, c->medium);
    bind_text(st, 5, c->type);
    bind_text(st, 6, c->status);
    bind_text(st, 7, c->valid_until);
    bind_text(st, 8, c->subsystems);
    bind_text(st, 9, c->merchants);
    bind_i64(st, 10, c->list_version);
    bind_i64(st, 11, c->issued_at);
    bind_text(st, 12, c->issued_by);
    bind_i64(st, 13, c->fee);
    if (c->replaces[0] != '\0')
        bind_text(st, 14, c->replaces);
    else
        sqlite3_bind_null(st, 14);
    bind_text(st, 15, c->status_reason);
    bind_i64(st, 16, c->status_at);
    return ykt_store_step_done(db, st);
}

int ykt_store_card_set_status(ykt_db *db, const char *card_no, const char *status,
                              const char *reason, int64_t version, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET status = ?, status_reason = ?, list_version = ?, "
                 "status_at = ? WHERE card_no = ?");
    bind_text(st, 1, status);
    bind_text(st, 2, reason);
    bind_i64(st, 3, version);
    bind_i64(st, 4, at);
    bind_text(st, 5, card_no);
    return ykt_store_step_changed(db, st);
}

int ykt_store_card_set_replaced_by(ykt_db *db, const char *card_no, const char *by)
{
    STMT_OR_FAIL(st, db, "UPDATE cards SET replaced_by = ? WHERE card_no = ?");
    bind_text(st, 1, by);
    bind_text(st, 2, card_no);
    return ykt_store_step_changed(db, st);
}

int ykt_store_card_set_atc(ykt_db *db, const ykt_card *card, int64_t atc)
{
    /* The WHERE clause makes a stale or concurrent update a no-op instead of a rollback.
     * A new ATC ends any request's claim to the old one. By rowid, the card number
     * checked: one B-tree search instead of two (the card number's index, then the row). */
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET atc = ?1, atc_terminal = NULL, atc_seq = NULL, "
                 "atc_digest = NULL WHERE rowid = ?3 AND card_no = ?2 AND atc < ?1");
    bind_i64(st, 1, atc);
    bind_text(st, 2, card->card_no);
    bind_i64(st, 3, card->rowid);
    return ykt_store_step_changed(db, st);
}

int ykt_store_card_mark_atc(ykt_db *db, const char *card_no, const char *terminal, int64_t seq,
                            const uint8_t digest[16])
{
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET atc_terminal = ?2, atc_seq = ?3, atc_digest = ?4 "
                 "WHERE card_no = ?1");
    bind_text(st, 1, card_no);
    bind_text(st, 2, terminal);
    bind_i64(st, 3, seq);
    sqlite3_bind_blob(st, 4, digest, 16, SQLITE_STATIC);
    return ykt_store_step_changed(db, st);
}

int ykt_store_card_unmark_atc(ykt_db *db, const char *card_no, const char *terminal, int64_t seq)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET atc_terminal = NULL, atc_seq = NULL, atc_digest = NULL "
                 "WHERE card_no = ?1 AND atc_terminal = ?2 AND atc_seq = ?3");
    bind_text(st, 1, card_no);
    bind_text(st, 2, terminal);
    bind_i64(st, 3, seq);
    return ykt_store_step_done(db, st);
}

int ykt_store_card_set_validity(ykt_db *db, int64_t person_id, const char *valid_until,
                                int64_t version)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET valid_until = ?1, list_version = ?2, expiry_listed = 0 "
                 "WHERE person_id = ?3 AND status <> 'cancelled' "
                 "AND (type = 'regular' OR valid_until > ?1)");
    bind_text(st, 1, valid_until);
    bind_i64(st, 2, version);
    bind_i64(st, 3, person_id);
    return ykt_store_step_done(db, st);
}

int ykt_store_card_set_end(ykt_db *db, const char *card_no, const char *valid_until,
                           int64_t version)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET valid_until = ?, list_version = ?, expiry_listed = 0 "
                 "WHERE card_no = ?");
    bind_text(st, 1, valid_until);
    bind_i64(st, 2, version);
    bind_text(st, 3, card_no);
    return ykt_store_step_changed(db, st);
}

int ykt_store_card_each(ykt_db *db, int64_t person_id, const char *status, int limit,
                        int (*fn)(const ykt_card *c, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT " CARD_COLUMNS " FROM cards WHERE (?1 = 0 OR person_id = ?1) "
                 "AND (?2 = '' OR status = ?2) ORDER BY issued_at, card_no LIMIT ?3");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, status);
    bind_i64(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_card c;
        read_card(st, &c);
        int frc = fn(&c, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_card_changed_since(ykt_db *db, int64_t version, int limit,
                                 int (*fn)(const ykt_card *c, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT " CARD_COLUMNS " FROM cards WHERE list_version > ? "
                 "ORDER BY list_version LIMIT ?");
    bind_i64(st, 1, version);
    bind_i64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_card c;
        read_card(st, &c);
        int frc = fn(&c, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* Cards whose validity ended before `cutoff` and that are not cancelled yet. */
int ykt_store_card_expired_before(ykt_db *db, const char *cutoff, int limit,
                                  int (*fn)(const ykt_card *c, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT " CARD_COLUMNS " FROM cards WHERE status <> 'cancelled' "
                 "AND valid_until < ? ORDER BY valid_until LIMIT ?");
    bind_text(st, 1, cutoff);
    bind_i64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_card c;
        read_card(st, &c);
        int frc = fn(&c, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_card_event(ykt_db *db, const char *card_no, const char *event, const char *actor,
                         int id_checked, const char *detail, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO card_events (at, card_no, event, actor, id_checked, detail) "
                 "VALUES (?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, at);
    bind_text(st, 2, card_no);
    bind_text(st, 3, event);
    bind_text(st, 4, actor);
    bind_i64(st, 5, id_checked);
    bind_text(st, 6, detail);
    return ykt_store_step_done(db, st);
}

int ykt_store_card_status_at(ykt_db *db, const char *card_no, int64_t at, char *status, size_t len)
{
    STMT_OR_FAIL(st, db,
                 "SELECT substr(event, 8) FROM card_events WHERE card_no = ? AND at <= ? "
                 "AND event LIKE 'status:%' ORDER BY at DESC, id DESC LIMIT 1");
    bind_text(st, 1, card_no);
    bind_i64(st, 2, at);
    int rc = sqlite3_step(st);
    ykt_strlcpy(status, rc == SQLITE_ROW ? col_text(st, 0) : "active", len);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_card_events(ykt_db *db, const char *card_no, int limit,
                          int (*fn)(const ykt_card_event_row *e, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, at, card_no, event, actor, id_checked, detail FROM card_events "
                 "WHERE card_no = ? ORDER BY id DESC LIMIT ?");
    bind_text(st, 1, card_no);
    bind_i64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_card_event_row e = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .card_no = col_text(st, 2),
            .event = col_text(st, 3),
            .actor = col_text(st, 4),
            .id_checked = sqlite3_column_int(st, 5),
            .detail = col_text(st, 6),
        };
        int frc = fn(&e, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- meta counters ---- */

int ykt_store_meta_next(ykt_db *db, const char *key, int64_t *value)
{
    STMT_OR_FAIL(st, db, "UPDATE meta SET value = value + 1 WHERE key = ? RETURNING value");
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_meta_get(ykt_db *db, const char *key, int64_t *value)
{
    STMT_OR_FAIL(st, db, "SELECT value FROM meta WHERE key = ?");
    bind_text(st, 1, key);
    return ykt_store_step_int64(st, value);
}

int ykt_store_meta_set(ykt_db *db, const char *key, int64_t value)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    bind_text(st, 1, key);
    bind_i64(st, 2, value);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- terminal request outcomes (idempotency) ---- */

/* The outcome's digest and reply from a statement's columns 0 and 1. */
static void read_outcome(sqlite3_stmt *st, uint8_t digest[16], ykt_buf *reply)
{
    const void *d = sqlite3_column_blob(st, 0);
    int dlen = sqlite3_column_bytes(st, 0);
    memset(digest, 0, 16);
    if (d != NULL)
        memcpy(digest, d, dlen < 16 ? (size_t)dlen : 16);
    ykt_buf_append(reply, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
}

/*
 * Schema v12: first the outcomes kept since the last daily archive, walked back from the
 * terminal's newest. An outcome's floor is the highest seq among the terminal's outcomes
 * before it not archived yet, so past one whose floor is below the seq sought no older
 * outcome of the walk can have it: a
 * retry of a recent request is found in a few steps, and so is the absence of one never
 * kept. The walk ends at an archived outcome, and at a link that does not lead back to an
 * older outcome of the same terminal (ids are never used again, ykt_store_request_prune:
 * a pruned one leads nowhere). Then the archived outcomes, by their index: at most one
 * day of the terminal's outcomes is walked, however it numbers.
 */
int ykt_store_request_get(ykt_db *db, const char *terminal, int64_t seq, uint8_t digest[16],
                          ykt_buf *reply)
{
    STMT_OR_FAIL(recent, db,
                 "WITH RECURSIVE walk(rid) AS (SELECT last_id FROM terminal_heads WHERE "
                 "terminal = ?1 UNION ALL SELECT r.prev_id FROM walk JOIN terminal_requests r "
                 "ON r.id = walk.rid WHERE r.terminal = ?1 AND r.archived = 0 AND r.seq <> ?2 "
                 "AND r.floor >= ?2 AND r.prev_id < r.id) "
                 "SELECT r.digest, r.reply FROM walk JOIN terminal_requests r ON r.id = "
                 "walk.rid WHERE r.terminal = ?1 AND r.archived = 0 AND r.seq = ?2 LIMIT 1");
    bind_text(recent, 1, terminal);
    bind_i64(recent, 2, seq);
    int rc = sqlite3_step(recent);
    if (rc == SQLITE_ROW)
        read_outcome(recent, digest, reply);
    sqlite3_reset(recent);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    if (rc != SQLITE_DONE)
        return YKT_ESTORAGE;
    STMT_OR_FAIL(archived, db,
                 "SELECT digest, reply FROM terminal_requests WHERE terminal = ? AND seq = ? "
                 "AND archived = 1 ORDER BY id LIMIT 1");
    bind_text(archived, 1, terminal);
    bind_i64(archived, 2, seq);
    rc = sqlite3_step(archived);
    if (rc == SQLITE_ROW)
        read_outcome(archived, digest, reply);
    sqlite3_reset(archived);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

/* Keeps the outcome after the terminal's newest (the trigger terminal_requests_head moves
 * the head in the same statement). A seq at or below the terminal's highest may have one
 * already: then YKT_EEXIST, and the first stays the only one. */
int ykt_store_request_put(ykt_db *db, const char *terminal, int64_t seq, const uint8_t digest[16],
                          const char *reply, size_t len, int64_t at)
{
    STMT_OR_FAIL(head, db,
                 "SELECT last_id, max_seq, day_max FROM terminal_heads WHERE terminal = ?");
    bind_text(head, 1, terminal);
    int rc = sqlite3_step(head);
    bool have_head = rc == SQLITE_ROW;
    int64_t last_id = have_head ? sqlite3_column_int64(head, 0) : 0;
    int64_t max_seq = have_head ? sqlite3_column_int64(head, 1) : 0;
    int64_t day_max = have_head ? sqlite3_column_int64(head, 2) : 0;
    sqlite3_reset(head);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return YKT_ESTORAGE;
    if (have_head && seq <= max_seq) {
        uint8_t kept[16];
        ykt_buf old;
        ykt_buf_init(&old);
        int grc = ykt_store_request_get(db, terminal, seq, kept, &old);
        ykt_buf_free(&old);
        if (grc != YKT_ENOTFOUND)
            return grc == YKT_OK ? YKT_EEXIST : grc;
    }
    STMT_OR_FAIL(st, db,
                 "INSERT INTO terminal_requests (terminal, seq, digest, reply, at, prev_id, "
                 "floor) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bind_text(st, 1, terminal);
    bind_i64(st, 2, seq);
    sqlite3_bind_blob(st, 3, digest, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, reply, (int)len, SQLITE_STATIC);
    bind_i64(st, 5, at);
    if (have_head)
        bind_i64(st, 6, last_id);
    else
        sqlite3_bind_null(st, 6);
    bind_i64(st, 7, day_max);
    return ykt_store_step_done(db, st);
}

int ykt_store_request_max_seq(ykt_db *db, const char *terminal, int64_t *seq)
{
    /* The head keeps it when the outcomes are pruned: a seq at or below it is still looked
     * up, not taken for new. */
    STMT_OR_FAIL(st, db,
                 "SELECT coalesce((SELECT max_seq FROM terminal_heads WHERE terminal = ?), 0)");
    bind_text(st, 1, terminal);
    return ykt_store_step_int64(st, seq);
}

/* Daily: the outcomes kept since the last run leave the walk for the index
 * (ykt_store_request_get), and the walk's floors start again from nothing (day_max). They
 * are the ids above the last run's highest, a range of the rowid: only they are read. */
int ykt_store_request_archive(ykt_db *db, int64_t *archived)
{
    int64_t upto = 0, top = 0;
    int rc = ykt_store_meta_get(db, "outcomes_archived_upto", &upto);
    if (rc == YKT_ENOTFOUND) {
        upto = 0;
        rc = YKT_OK;
    }
    if (rc != YKT_OK)
        return rc;
    STMT_OR_FAIL(max, db, "SELECT coalesce(max(id), 0) FROM terminal_requests");
    if ((rc = ykt_store_step_int64(max, &top)) != YKT_OK)
        return rc;
    STMT_OR_FAIL(st, db, "UPDATE terminal_requests SET archived = 1 WHERE id > ? AND id <= ?");
    bind_i64(st, 1, upto);
    bind_i64(st, 2, top);
    rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK && archived != NULL)
        *archived = sqlite3_changes(ykt_db_handle(db));
    if (rc == YKT_OK && top > upto)
        rc = ykt_store_meta_set(db, "outcomes_archived_upto", top);
    if (rc != YKT_OK)
        return rc;
    STMT_OR_FAIL(heads, db, "UPDATE terminal_heads SET day_max = 0 WHERE day_max <> 0");
    return ykt_store_step_done(db, heads);
}

/*
 * Forgets archived outcomes kept before `before`; those still walked are a day old at most.
 * SQLite gives a new row the id one above the highest in the table, so the newest row is
 * never deleted: emptied instead (no terminal has the empty name), it keeps every id ever
 * used from being used again, and the ids above the last archived are always the outcomes
 * kept since (ykt_store_request_archive). A link to a forgotten outcome leads nowhere.
 */
int ykt_store_request_prune(ykt_db *db, int64_t before, int64_t *removed)
{
    STMT_OR_FAIL(older, db,
                 "DELETE FROM terminal_requests WHERE archived = 1 AND at < ? AND id < "
                 "(SELECT max(id) FROM terminal_requests)");
    bind_i64(older, 1, before);
    int rc = ykt_store_step_done(db, older);
    int64_t n = sqlite3_changes(ykt_db_handle(db));
    if (rc != YKT_OK)
        return rc;
    STMT_OR_FAIL(newest, db,
                 "UPDATE terminal_requests SET terminal = '', seq = 0, digest = x'', reply = "
                 "x'' WHERE id = (SELECT max(id) FROM terminal_requests) AND archived = 1 AND "
                 "at < ? AND terminal <> ''");
    bind_i64(newest, 1, before);
    rc = ykt_store_step_done(db, newest);
    n += sqlite3_changes(ykt_db_handle(db));
    if (rc == YKT_OK && removed != NULL)
        *removed = n;
    return rc;
}
