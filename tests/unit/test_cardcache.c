/* Unit tests for core/src/cardcache.c and the row epoch it relies on (core/src/db.c). */
#include "test.h"

#include "cardcache.h"
#include "common.h"
#include "db.h"
#include "store/store.h"

#include <stdbool.h>
#include <string.h>

#define UID "04A1B2C3D4E5F6"

static char path[256];

static ykt_db *open_db(void)
{
    ykt_db *db = NULL;
    char err[512] = "";
    int rc = ykt_db_open(&db, path, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "open %s: %s\n", path, err);
    ASSERT_EQ(rc, YKT_OK);
    return db;
}

static void exec(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
        exit(1);
    }
}

/* A second connection to the database, as another program would open. */
static sqlite3 *open_other(void)
{
    sqlite3 *other = NULL;
    ASSERT_EQ(sqlite3_open(path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    return other;
}

/* One holder with one card, committed. */
static void seed(ykt_db *db)
{
    exec(ykt_db_handle(db),
         "INSERT INTO people (id, person_no, kind, name, gender, id_number, department, "
         "valid_until, validity_source, created_at, updated_at) VALUES (7, 'S1', 'student', "
         "'Li Lei', 'M', '110101200001011234', 'Physics', '2030-07-31', 'study_length', 1, 1);"
         "INSERT INTO cards (card_no, uid, person_id, medium, type, status, valid_until, atc, "
         "issued_at, issued_by, status_at) VALUES ('8000000018', '" UID "', 7, 'card', "
         "'regular', 'active', '2030-07-31', 5, 1, 'test', 1);");
}

/* A request's savepoint in the batch, as the server runs one. */
static void begin(ykt_db *db)
{
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
}

static void test_copy_used_and_kept_current(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    ASSERT(c != NULL);
    ykt_card card;
    ykt_person holder;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(card.atc, 5);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, card.person_id, &holder), YKT_OK);
    ASSERT_STREQ(holder.name, "Li Lei");
    ASSERT_EQ(ykt_cardcache_card(c, db, "0011223344", &card), YKT_ENOTFOUND);

    /* The copy answers, not the database: a change made quietly (as only the copy's own
     * write is) is not seen... */
    uint64_t epoch = ykt_db_rows_epoch(db);
    ASSERT(epoch != 0);
    ykt_db_rows_quiet(db, true);
    exec(ykt_db_handle(db), "UPDATE people SET name = 'quiet' WHERE id = 7");
    exec(ykt_db_handle(db), "UPDATE cards SET type = 'temporary' WHERE uid = '" UID "'");
    ykt_db_rows_quiet(db, false);
    ASSERT_EQ(ykt_db_rows_epoch(db), epoch);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.type, "regular");
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, card.person_id, &holder), YKT_OK);
    ASSERT_STREQ(holder.name, "Li Lei");
    exec(ykt_db_handle(db), "UPDATE people SET name = 'Li Lei' WHERE id = 7;"
                            "UPDATE cards SET type = 'regular' WHERE uid = '" UID "'");
    ASSERT(ykt_db_rows_epoch(db) != epoch); /* not quiet: the epoch moved */
    epoch = ykt_db_rows_epoch(db);

    /* ...and the check's own ATC write keeps it current without moving the epoch. */
    begin(db);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_set_atc(c, db, &card, 9), YKT_OK);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_rows_epoch(db), epoch);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(card.atc, 9);
    /* An ATC that is not above the row's changes nothing, and says so. */
    ASSERT_EQ(ykt_cardcache_set_atc(c, db, &card, 9), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ykt_card fresh;
    ASSERT_EQ(ykt_store_card_by_uid(db, UID, &fresh), YKT_OK);
    ASSERT_EQ(fresh.atc, 9);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT(memcmp(&card, &fresh, sizeof card) == 0);

    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* Any other change to a card or a holder, on this connection, is seen at once. */
static void test_other_changes_seen(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    ykt_card card;
    ykt_person holder;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, 7, &holder), YKT_OK);
    begin(db);
    ASSERT_EQ(ykt_store_card_set_status(db, card.card_no, "lost", "reported", 1, 2), YKT_OK);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "lost");
    ykt_db_cmd_end(db, true);
    begin(db);
    exec(ykt_db_handle(db), "UPDATE people SET name = 'Han Meimei' WHERE id = 7");
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, 7, &holder), YKT_OK);
    ASSERT_STREQ(holder.name, "Han Meimei");
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* Undone: the ATC write of a refused request, a change read back before its rollback, and a
 * whole batch. */
static void test_rollbacks_seen(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    ykt_card card;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    int64_t atc = card.atc;

    begin(db);
    ASSERT_EQ(ykt_cardcache_set_atc(c, db, &card, atc + 1), YKT_OK);
    ykt_db_cmd_end(db, false); /* refused: the ATC write is undone */
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(card.atc, atc);

    begin(db);
    exec(ykt_db_handle(db), "UPDATE cards SET status = 'frozen' WHERE uid = '" UID "'");
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK); /* read inside the request */
    ASSERT_STREQ(card.status, "frozen");
    ykt_db_cmd_end(db, false);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "lost");

    /* The same inside a savepoint of a request's own (a plugin's settlement). */
    begin(db);
    size_t mark = ykt_db_hooks_mark(db);
    exec(ykt_db_handle(db), "SAVEPOINT inner");
    exec(ykt_db_handle(db), "UPDATE cards SET status = 'frozen' WHERE uid = '" UID "'");
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "frozen");
    exec(ykt_db_handle(db), "ROLLBACK TO inner; RELEASE inner");
    ykt_db_hooks_rollback(db, mark);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "lost");
    ykt_db_cmd_end(db, true);

    begin(db);
    ASSERT_EQ(ykt_cardcache_set_atc(c, db, &card, atc + 2), YKT_OK);
    ykt_db_cmd_end(db, true);
    exec(ykt_db_handle(db), "ROLLBACK"); /* the whole batch, as a failed commit does */
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_ESTORAGE);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(card.atc, atc);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* Another connection's commit is seen, between batches and at a batch's start. */
static void test_other_connections_seen(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    sqlite3 *other = open_other();
    ykt_card card;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "lost");
    exec(other, "UPDATE cards SET status = 'active' WHERE uid = '" UID "'");
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "active");
    exec(other, "UPDATE people SET name = 'Wei Hua' WHERE id = 7");
    begin(db);
    ykt_person holder;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, 7, &holder), YKT_OK);
    ASSERT_STREQ(holder.name, "Wei Hua");
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    sqlite3_close(other);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* Two uids in one slot replace each other; no cache reads the database every time. */
static void test_collisions_and_no_cache(void)
{
    ykt_db *db = open_db();
    exec(ykt_db_handle(db),
         "INSERT INTO people (id, person_no, kind, name, gender, id_number, department, "
         "valid_until, validity_source, created_at, updated_at) VALUES (8, 'S2', 'staff', "
         "'Zhang Wei', 'F', '110101200001015678', 'Library', '2030-07-31', 'contract', 1, 1);"
         "INSERT INTO cards (card_no, uid, person_id, medium, type, status, valid_until, atc, "
         "issued_at, issued_by, status_at) VALUES ('8000000026', 'AABBCCDD', 8, 'card', "
         "'regular', 'active', '2030-07-31', 1, 1, 'test', 1);");
    ykt_cardcache *c = ykt_cardcache_new(1); /* one slot */
    ykt_card a, b;
    ykt_person pa, pb;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(ykt_cardcache_card(c, db, UID, &a), YKT_OK);
        ASSERT_EQ(ykt_cardcache_holder(c, db, UID, a.person_id, &pa), YKT_OK);
        ASSERT_EQ(ykt_cardcache_card(c, db, "AABBCCDD", &b), YKT_OK);
        ASSERT_EQ(ykt_cardcache_holder(c, db, "AABBCCDD", b.person_id, &pb), YKT_OK);
        ASSERT_STREQ(a.card_no, "8000000018");
        ASSERT_STREQ(pa.name, "Wei Hua");
        ASSERT_STREQ(b.card_no, "8000000026");
        ASSERT_STREQ(pb.name, "Zhang Wei");
    }
    /* A holder asked for with another card's uid is read, not taken from that copy. */
    ASSERT_EQ(ykt_cardcache_holder(c, db, "AABBCCDD", 7, &pa), YKT_OK);
    ASSERT_STREQ(pa.name, "Wei Hua");
    ASSERT(ykt_cardcache_new(0) == NULL);
    ASSERT_EQ(ykt_cardcache_card(NULL, db, UID, &a), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(NULL, db, UID, 7, &pa), YKT_OK);
    begin(db);
    ASSERT_EQ(ykt_cardcache_set_atc(NULL, db, &a, a.atc + 1), YKT_OK);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(ykt_store_card_by_uid(db, UID, &b), YKT_OK);
    ASSERT_EQ(b.atc, a.atc + 1);
    ykt_db_close(db);
    ykt_cardcache_free(c);
    ykt_cardcache_free(NULL);
}

/* ---- rules only these catch (a second reader's probes) ---- */

/* A change kept by one request, read into a copy by a later one, then the whole batch rolled
 * back (a failed COMMIT): only SQLite's rollback hook can tell the copy it is stale. */
static void test_batch_rollback_after_kept_change(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    ykt_card card;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    char before[16];
    snprintf(before, sizeof before, "%s", card.status);
    begin(db);
    exec(ykt_db_handle(db), "UPDATE cards SET status = 'cancelled' WHERE uid = '" UID "'");
    ykt_db_cmd_end(db, true);
    begin(db);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "cancelled");
    ykt_db_cmd_end(db, true);
    exec(ykt_db_handle(db), "ROLLBACK");
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_ESTORAGE);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, before);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* A holder kept with its card, then only the holder changes. */
static void test_people_change_with_holder_kept(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    ykt_card card;
    ykt_person holder;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, card.person_id, &holder), YKT_OK);
    begin(db);
    exec(ykt_db_handle(db), "UPDATE people SET name = 'Liu Yang' WHERE id = 7");
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, card.person_id, &holder), YKT_OK);
    ASSERT_STREQ(holder.name, "Liu Yang");
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

/* Another connection commits; the next use is inside a batch (the server's only case). */
static void test_other_connection_then_batch(void)
{
    ykt_db *db = open_db();
    ykt_cardcache *c = ykt_cardcache_new(100);
    sqlite3 *other = open_other();
    ykt_card card;
    ykt_person holder;
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_EQ(ykt_cardcache_holder(c, db, UID, card.person_id, &holder), YKT_OK);
    exec(other, "UPDATE cards SET status = 'frozen' WHERE uid = '" UID "'");
    begin(db);
    ASSERT_EQ(ykt_cardcache_card(c, db, UID, &card), YKT_OK);
    ASSERT_STREQ(card.status, "frozen");
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    sqlite3_close(other);
    ykt_db_close(db);
    ykt_cardcache_free(c);
}

int main(void)
{
    printf("test_cardcache\n");
    test_tmpdir_create("test-cardcache");
    ykt_db_global_init();
    snprintf(path, sizeof path, "%s/cards.db", test_tmpdir);
    ykt_db *db = open_db();
    seed(db);
    ykt_db_close(db);
    RUN(test_copy_used_and_kept_current);
    RUN(test_other_changes_seen);
    RUN(test_rollbacks_seen);
    RUN(test_other_connections_seen);
    RUN(test_collisions_and_no_cache);
    RUN(test_batch_rollback_after_kept_change);
    RUN(test_people_change_with_holder_kept);
    RUN(test_other_connection_then_batch);
    printf("ok\n");
    return 0;
}
