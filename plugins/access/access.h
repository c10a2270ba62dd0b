/*
 * access: the access-control subsystem (门禁 / 出入管理, R-A). Internal header shared by the
 * plugin's files; the only ykt header it includes is the public plugin API.
 */
#ifndef YKT_ACCESS_H
#define YKT_ACCESS_H

#include <ykt/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACC_ID_MAX      48 /* door ids, group names, person numbers, plates */
#define ACC_ROOM_MAX    32 /* a dormitory room, as text */
#define ACC_UID_MAX     21 /* a card UID: 4 to 10 bytes in hex, and the NUL */
#define ACC_REASON_MAX  96 /* as ykt_ev_access.reason */
#define ACC_PENDING_MAX 65536
#define ACC_DAY_MINUTES 1440

/* Day bits of a weekly window: bit 0 Monday .. bit 6 Sunday, bit 7 the campus holidays. */
#define ACC_DAY_HOLIDAY (1u << 7)
#define ACC_DAYS_WEEK   0x7Fu

typedef struct acc_window {
    unsigned days;
    int from_min, to_min; /* [from, to) in minutes of the campus day */
} acc_window;

typedef struct acc_group {
    char name[ACC_ID_MAX];
    acc_window *windows;
    int nwindows;
} acc_group;

typedef struct acc_door_group {
    char name[ACC_ID_MAX];
    bool anti_passback;
    bool public_; /* any valid card passes */
    int resident_from, resident_to;
} acc_door_group;

typedef struct acc_door {
    char id[ACC_ID_MAX];
    char terminal[ACC_ID_MAX];
    char place[ACC_ID_MAX];
    char kind[16];
    char building[ACC_ID_MAX];
    int direction; /* YKT_DIR_IN, YKT_DIR_OUT, or 0 = the reader says (both) */
    int dg;        /* index into door_groups */
} acc_door;

/* A decision that is logged after the reply (denials and the host's refusals: an error
 * reply undoes the request's own writes, so these rows are written by a timer). */
typedef struct acc_pending {
    int64_t at_ms;
    int direction;
    int64_t visitor_id;
    char terminal[ACC_ID_MAX], door[ACC_ID_MAX];
    char card_no[24], uid[24], person_no[ACC_ID_MAX], plate[ACC_ID_MAX];
    char result[8], code[24], reason[ACC_REASON_MAX + 32];
} acc_pending;

typedef struct acc_state {
    ykt_plugin *self;
    const ykt_host *h;

    /* options */
    char subsystem[32];
    char department[64];
    int64_t log_retention_days;
    int list_page;
    bool passback_daily_reset;

    /* caches, reloaded after every change of the configuration */
    acc_door *doors; /* sorted by terminal */
    int ndoors;
    acc_door_group *door_groups;
    int ndoor_groups;
    acc_group *groups; /* sorted by name */
    int ngroups;
    char (*holidays)[11]; /* sorted */
    int nholidays;

    /* the campus day of the last decision */
    int64_t day_start, day_end;
    char day[11];
    int weekday; /* 0 Monday .. 6 Sunday */
    bool holiday;

    /* the decision in flight (set by the verb, read by the subscriber) */
    const ykt_ev_access *cur_ev;
    const acc_door *cur_door;
    char my_code[24];
    int64_t my_visitor;
    bool my_outside; /* a lab door deferred for a group that opens it at other times */

    acc_pending *pending;
    int npending;
    int64_t dropped;
} acc_state;

/* access.c */
sqlite3_stmt *acc_db(acc_state *s, const char *sql);
int acc_reload(acc_state *s);
const acc_door *acc_door_by_id(acc_state *s, const char *id);
const acc_door_group *acc_door_group_by_name(acc_state *s, const char *name);
int acc_wl_refresh(acc_state *s, const char *door_group, const char *person_no);
int acc_day_start(acc_state *s, const char *date, int64_t *out);
void acc_format_time(acc_state *s, int64_t ms, char out[20]);
int acc_parse_time(acc_state *s, const char *text, bool end_of_day, int64_t *out);
bool acc_parse_hhmm(const char *p, int *minute);
unsigned acc_parse_days(const char *text);
void acc_days_text(unsigned days, char *out, size_t len);
bool acc_plate_normalise(const char *in, char *out, size_t len);
bool acc_uid_normalise(const char *in, char out[ACC_UID_MAX]);
bool acc_card_allows(const char *list, const char *item);
void acc_whitelist_page(acc_state *s, ykt_request *r, const char *door_group, int64_t since,
                        bool admin);

/* admin.c */
int acc_admin_register(acc_state *s);

#endif
