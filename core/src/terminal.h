/*
 * The terminal registry: every device allowed on the card network (R-S1), kept in memory
 * for AUTH and type checks and persisted in the terminals table. Changes are written in the
 * current batch and reach the in-memory registry only when that batch commits.
 */
#ifndef YKT_TERMINAL_H
#define YKT_TERMINAL_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "secret.h"

/* Terminal types as bits, so a verb can allow several. */
enum ykt_terminal_type {
    YKT_TT_POS = 1 << 0,
    YKT_TT_GATE = 1 << 1,
    YKT_TT_DISPENSER = 1 << 2,
    YKT_TT_METER = 1 << 3,
    YKT_TT_BANK = 1 << 4,
    YKT_TT_BOOKING = 1 << 5,
    YKT_TT_KIOSK = 1 << 6,
    YKT_TT_ATTENDANCE = 1 << 7,
};
#define YKT_TT_ALL 0xff

enum ykt_terminal_status { YKT_TS_ENABLED, YKT_TS_DISABLED, YKT_TS_REVOKED };

#define YKT_TERMINAL_ID_MAX 63

typedef struct ykt_terminal {
    char id[YKT_TERMINAL_ID_MAX + 1];
    unsigned type; /* one YKT_TT_* bit */
    int status;
    char location[128];
    char owner[64];
    char secret_hash[YKT_HASH_MAX];
    int64_t created_at;
    int64_t last_seen; /* ms; kept in memory, flushed by a timer */
    bool last_seen_dirty;
    char health[16]; /* ok, degraded, fault (reported by the terminal) */
    char health_detail[128];
    int64_t health_at;
    int connections; /* authenticated connections right now */
    /* Every seq above seq_floor is new: no outcome is kept for it (verbs.c, replay_outcome).
     * Read from terminal_heads at the terminal's first request, then raised by every
     * request that runs. */
    int64_t seq_floor;
    bool seq_floor_known;
    /* The seqs of requests waiting beside the loop (a password check): they have run in
     * part and have no outcome kept yet, so a copy that arrives meanwhile must not run
     * (ykt_terminal_seq_waiting). */
    int64_t *waiting_seqs;
    int nwaiting, capwaiting;
} ykt_terminal;

typedef struct ykt_terminals ykt_terminals;

/* A request of the terminal with this seq waits beside the loop (begin) or has finished
 * (end); whether one does. begin returns false when out of memory. */
bool ykt_terminal_seq_wait_begin(ykt_terminal *t, int64_t seq);
void ykt_terminal_seq_wait_end(ykt_terminal *t, int64_t seq);
bool ykt_terminal_seq_waiting(const ykt_terminal *t, int64_t seq);

/* Parses "pos", "gate", ...; returns the bit or 0. */
unsigned ykt_terminal_type_parse(const char *s);
const char *ykt_terminal_type_name(unsigned type);
/* Writes "pos,gate" style lists for a type mask into buf. */
void ykt_terminal_types_format(unsigned mask, char *buf, size_t len);
const char *ykt_terminal_status_name(int status);

int ykt_terminals_load(ykt_terminals **out, ykt_db *db);
void ykt_terminals_free(ykt_terminals *reg);
ykt_terminal *ykt_terminal_find(ykt_terminals *reg, const char *id);
size_t ykt_terminals_count(ykt_terminals *reg);
/* Iterates in no particular order: start with *pos = 0. */
ykt_terminal *ykt_terminals_next(ykt_terminals *reg, size_t *pos);

/* Writes a new terminal in the current batch; it joins the registry on commit.
 * YKT_EEXIST if the id is taken. */
int ykt_terminal_add(ykt_terminals *reg, ykt_db *db, const ykt_terminal *t);
/* Changes the status in the current batch; on commit, on_changed(arg, id) runs so that the
 * server can close the connections of a disabled or revoked terminal. */
int ykt_terminal_set_status(ykt_terminals *reg, ykt_db *db, const char *id, int status,
                            void (*on_changed)(void *arg, const char *id), void *arg);
/* Replaces the secret hash in the current batch; on_changed runs on commit as above. */
int ykt_terminal_set_secret(ykt_terminals *reg, ykt_db *db, const char *id, const char *hash,
                            void (*on_changed)(void *arg, const char *id), void *arg);
/* Records traffic from a terminal (memory only). */
void ykt_terminal_touch(ykt_terminal *t, int64_t now_ms);
/* Records a health report; written to the database in the current batch. */
int ykt_terminal_report_health(ykt_terminals *reg, ykt_db *db, ykt_terminal *t, const char *health,
                               const char *detail, int64_t now_ms);
/* Writes changed last-seen times; call inside a request savepoint. */
int ykt_terminals_flush_last_seen(ykt_terminals *reg, ykt_db *db);

#endif
