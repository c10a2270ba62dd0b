/* SQL for people, approvals and passwords. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

#define PERSON_COLUMNS                                                                             \
    "id, person_no, kind, name, gender, id_number, phone, department, class, "                     \
    "coalesce(enrolled_on, ''), coalesce(study_years, 0), valid_until, validity_source, status, "  \
    "host, created_at, updated_at"

static void read_person(sqlite3_stmt *st, ykt_person *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    ykt_strlcpy(p->person_no, col_text(st, 1), sizeof p->person_no);
    ykt_strlcpy(p->kind, col_text(st, 2), sizeof p->kind);
    ykt_strlcpy(p->name, col_text(st, 3), sizeof p->name);
    ykt_strlcpy(p->gender, col_text(st, 4), sizeof p->gender);
    ykt_strlcpy(p->id_number, col_text(st, 5), sizeof p->id_number);
    ykt_strlcpy(p->phone, col_text(st, 6), sizeof p->phone);
    ykt_strlcpy(p->department, col_text(st, 7), sizeof p->department);
    ykt_strlcpy(p->class_name, col_text(st, 8), sizeof p->class_name);
    ykt_strlcpy(p->enrolled_on, col_text(st, 9), sizeof p->enrolled_on);
    p->study_years = sqlite3_column_int(st, 10);
    ykt_strlcpy(p->valid_until, col_text(st, 11), sizeof p->valid_until);
    ykt_strlcpy(p->validity_source, col_text(st, 12), sizeof p->validity_source);
    ykt_strlcpy(p->status, col_text(st, 13), sizeof p->status);
    ykt_strlcpy(p->host, col_text(st, 14), sizeof p->host);
    p->created_at = sqlite3_column_int64(st, 15);
    p->updated_at = sqlite3_column_int64(st, 16);
}

static int get_one(ykt_db *db, sqlite3_stmt *st, ykt_person *out)
{
    (void)db;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_person(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_person_by_no(ykt_db *db, const char *person_no, ykt_person *out)
{
    STMT_OR_FAIL(st, db, "SELECT " PERSON_COLUMNS " FROM people WHERE person_no = ?");
    bind_text(st, 1, person_no);
    return get_one(db, st, out);
}

int ykt_store_person_by_id(ykt_db *db, int64_t id, ykt_person *out)
{
    STMT_OR_FAIL(st, db, "SELECT " PERSON_COLUMNS " FROM people WHERE id = ?");
    bind_i64(st, 1, id);
    return get_one(db, st, out);
}

int ykt_store_person_by_id_number(ykt_db *db, const char *id_number, ykt_person *out)
{
    STMT_OR_FAIL(st, db, "SELECT " PERSON_COLUMNS " FROM people WHERE id_number = ?");
    bind_text(st, 1, id_number);
    return get_one(db, st, out);
}

static void bind_opt_date(sqlite3_stmt *st, int i, const char *s)
{
    if (s[0] == '\0')
        sqlite3_bind_null(st, i);
    else
        bind_text(st, i, s);
}

int ykt_store_person_insert(ykt_db *db, ykt_person *p)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO people (person_no, kind, name, gender, id_number, phone, "
                 "department, class, enrolled_on, study_years, valid_until, validity_source, "
                 "status, host, created_at, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_text(st, 1, p->person_no);
    bind_text(st, 2, p->kind);
    bind_text(st, 3, p->name);
    bind_text(st, 4, p->gender);
    bind_text(st, 5, p->id_number);
    bind_text(st, 6, p->phone);
    bind_text(st, 7, p->department);
    bind_text(st, 8, p->class_name);
    bind_opt_date(st, 9, p->enrolled_on);
    if (p->study_years > 0)
        bind_i64(st, 10, p->study_years);
    else
        sqlite3_bind_null(st, 10);
    bind_text(st, 11, p->valid_until);
    bind_text(st, 12, p->validity_source);
    bind_text(st, 13, p->status);
    bind_text(st, 14, p->host);
    bind_i64(st, 15, p->created_at);
    bind_i64(st, 16, p->updated_at);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        p->id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

int ykt_store_person_update(ykt_db *db, const ykt_person *p)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE people SET kind = ?, name = ?, gender = ?, id_number = ?, phone = ?, "
                 "department = ?, class = ?, enrolled_on = ?, study_years = ?, valid_until = ?, "
                 "validity_source = ?, status = ?, host = ?, updated_at = ? WHERE id = ?");
    bind_text(st, 1, p->kind);
    bind_text(st, 2, p->name);
    bind_text(st, 3, p->gender);
    bind_text(st, 4, p->id_number);
    bind_text(st, 5, p->phone);
    bind_text(st, 6, p->department);
    bind_text(st, 7, p->class_name);
    bind_opt_date(st, 8, p->enrolled_on);
    if (p->study_years > 0)
        bind_i64(st, 9, p->study_years);
    else
        sqlite3_bind_null(st, 9);
    bind_text(st, 10, p->valid_until);
    bind_text(st, 11, p->validity_source);
    bind_text(st, 12, p->status);
    bind_text(st, 13, p->host);
    bind_i64(st, 14, p->updated_at);
    bind_i64(st, 15, p->id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_person_each(ykt_db *db, const char *department, const char *kind, const char *status,
                          int limit, int (*fn)(const ykt_person *p, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT " PERSON_COLUMNS " FROM people WHERE (?1 = '' OR department = ?1) "
                 "AND (?2 = '' OR kind = ?2) AND (?3 = '' OR status = ?3) "
                 "ORDER BY person_no LIMIT ?4");
    bind_text(st, 1, department);
    bind_text(st, 2, kind);
    bind_text(st, 3, status);
    bind_i64(st, 4, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_person p;
        read_person(st, &p);
        int frc = fn(&p, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- approvals ---- */

int ykt_store_approval_insert(ykt_db *db, int64_t person_id, const char *kind, const char *approver,
                              const char *ref, const char *recorded_by, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO approvals (person_id, kind, approver, ref, recorded_by, at) "
                 "VALUES (?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, kind);
    bind_text(st, 3, approver);
    bind_text(st, 4, ref);
    bind_text(st, 5, recorded_by);
    bind_i64(st, 6, at);
    return ykt_store_step_done(db, st);
}

int ykt_store_approval_unused(ykt_db *db, int64_t person_id, const char *kind, int64_t *id,
                              char *ref, size_t reflen)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, ref FROM approvals WHERE person_id = ? AND kind = ? AND "
                 "used_by_card IS NULL ORDER BY id DESC LIMIT 1");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, kind);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        ykt_strlcpy(ref, col_text(st, 1), reflen);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_approval_use(ykt_db *db, int64_t id, const char *card_no)
{
    STMT_OR_FAIL(st, db, "UPDATE approvals SET used_by_card = ? WHERE id = ?");
    bind_text(st, 1, card_no);
    bind_i64(st, 2, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_approval_each(ykt_db *db, int64_t person_id,
                            int (*fn)(const ykt_approval_row *a, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, kind, approver, ref, recorded_by, at, coalesce(used_by_card, '') "
                 "FROM approvals WHERE person_id = ? ORDER BY id");
    bind_i64(st, 1, person_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_approval_row a = {
            .id = sqlite3_column_int64(st, 0),
            .kind = col_text(st, 1),
            .approver = col_text(st, 2),
            .ref = col_text(st, 3),
            .recorded_by = col_text(st, 4),
            .at = sqlite3_column_int64(st, 5),
            .used_by_card = col_text(st, 6),
        };
        int frc = fn(&a, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- passwords ---- */

int ykt_store_password_get(ykt_db *db, int64_t person_id, const char *which, ykt_password_row *out)
{
    STMT_OR_FAIL(st, db,
                 "SELECT hash, initial, failures, locked_until, changed_at FROM passwords "
                 "WHERE person_id = ? AND which = ?");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, which);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ykt_strlcpy(out->hash, col_text(st, 0), sizeof out->hash);
        out->initial = sqlite3_column_int(st, 1);
        out->failures = sqlite3_column_int(st, 2);
        out->locked_until = sqlite3_column_int64(st, 3);
        out->changed_at = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_password_set(ykt_db *db, int64_t person_id, const char *which, const char *hash,
                           int initial, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO passwords (person_id, which, hash, initial, failures, "
                 "locked_until, changed_at) VALUES (?1, ?2, ?3, ?4, 0, 0, ?5) "
                 "ON CONFLICT (person_id, which) DO UPDATE SET hash = ?3, initial = ?4, "
                 "failures = 0, locked_until = 0, changed_at = ?5");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, which);
    bind_text(st, 3, hash);
    bind_i64(st, 4, initial);
    bind_i64(st, 5, at);
    return ykt_store_step_done(db, st);
}

int ykt_store_password_failures(ykt_db *db, int64_t person_id, const char *which, int failures,
                                int64_t locked_until)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE passwords SET failures = ?, locked_until = ? "
                 "WHERE person_id = ? AND which = ?");
    bind_i64(st, 1, failures);
    bind_i64(st, 2, locked_until);
    bind_i64(st, 3, person_id);
    bind_text(st, 4, which);
    return ykt_store_step_changed(db, st);
}
