/* SQL for cards, card events, the blacklist version and terminal request outcomes. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

#define CARD_COLUMNS                                                                               \
    "card_no, uid, person_id, medium, type, status, valid_until, subsystems, merchants, atc, "     \
    "list_version, issued_at, issued_by, fee, coalesce(replaces, ''), "                            \
    "coalesce(replaced_by, ''), status_reason, status_at"

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

int ykt_store_card_set_atc(ykt_db *db, const char *card_no, int64_t atc)
{
    /* The WHERE clause makes a stale or concurrent update a no-op instead of a rollback. */
    STMT_OR_FAIL(st, db, "UPDATE cards SET atc = ? WHERE card_no = ? AND atc < ?");
    bind_i64(st, 1, atc);
    bind_text(st, 2, card_no);
    bind_i64(st, 3, atc);
    return ykt_store_step_changed(db, st);
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

int ykt_store_request_get(ykt_db *db, const char *terminal, int64_t seq, uint8_t digest[16],
                          ykt_buf *reply)
{
    STMT_OR_FAIL(st, db,
                 "SELECT digest, reply FROM terminal_requests WHERE terminal = ? AND seq = ?");
    bind_text(st, 1, terminal);
    bind_i64(st, 2, seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *d = sqlite3_column_blob(st, 0);
        int dlen = sqlite3_column_bytes(st, 0);
        memset(digest, 0, 16);
        if (d != NULL)
            memcpy(digest, d, dlen < 16 ? (size_t)dlen : 16);
        ykt_buf_append(reply, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_request_put(ykt_db *db, const char *terminal, int64_t seq, const uint8_t digest[16],
                          const char *reply, size_t len, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO terminal_requests (terminal, seq, digest, reply, at) "
                 "VALUES (?, ?, ?, ?, ?)");
    bind_text(st, 1, terminal);
    bind_i64(st, 2, seq);
    sqlite3_bind_blob(st, 3, digest, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, reply, (int)len, SQLITE_STATIC);
    bind_i64(st, 5, at);
    return ykt_store_step_done(db, st);
}

int ykt_store_request_max_seq(ykt_db *db, const char *terminal, int64_t *seq)
{
    STMT_OR_FAIL(st, db, "SELECT coalesce(max(seq), 0) FROM terminal_requests WHERE terminal = ?");
    bind_text(st, 1, terminal);
    return ykt_store_step_int64(st, seq);
}

int ykt_store_request_prune(ykt_db *db, int64_t before, int64_t *removed)
{
    STMT_OR_FAIL(st, db, "DELETE FROM terminal_requests WHERE at < ?");
    bind_i64(st, 1, before);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK && removed != NULL)
        *removed = sqlite3_changes(ykt_db_handle(db));
    return rc;
}
