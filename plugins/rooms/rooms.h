/*
 * rooms: bookable rooms (labs, venues) and public computer rooms (R-R).
 * See docs/plugins/rooms.md. Shared declarations of rooms.c (booking, doors, timer),
 * rooms_seats.c (computer-room seat sessions) and rooms_admin.c (registry and reports).
 */
#ifndef ROOMS_H
#define ROOMS_H

#include <ykt/plugin.h>
#include <ykt/plugin_util.h>

#include <stdbool.h>
#include <stdint.h>

#define ROOMS_MIN_MS 60000LL

typedef struct rooms {
    ykt_plugin *self;
    const ykt_host *host;
    char merchant[64];         /* option merchant: default payee ("" = terminal owner) */
    int64_t seat_timeout_ms;   /* option seat_timeout */
    int64_t max_session_min;   /* option max_session, in minutes */
    int64_t checkin_early_ms;  /* option checkin_early */
    int64_t max_days_ahead;    /* option max_days_ahead */
    int64_t max_active;        /* option max_active */
    int64_t tick_ms;           /* option tick */
    int64_t last_rule_warn_ms; /* rate limit of the timer's rule-failure log line */
} rooms;

typedef struct room {
    char id[40];
    char name[128];
    char kind[16]; /* venue, lab, computer */
    char department[64];
    char days[8]; /* ISO weekdays it opens: "1234567" */
    char merchant[64];
    char departments[256]; /* who may book: departments ("" any) */
    char kinds[64];        /* card holder kinds ("" any) */
    char card_types[64];   /* card types ("" any) */
    char room_type[32];    /* computer rooms: room_type of scripts/rooms.lua */
    char status[8];        /* open, closed */
    int64_t capacity, open_min, close_min, slot_min, fee, deposit, list_only, cancel_before,
        refund_before, grace;
} room;

/* ---- rooms.c: helpers shared by the other files ---- */

/* 0 found, 1 not found, -1 storage error. */
int rooms_room_get(rooms *s, const char *id, room *out);
/* Copies with truncation; always terminates. */
void rooms_copy(char *dst, size_t n, const char *src);
/* "YYYY-MM-DD" and "HH:MM" (00:00..24:00) strictly. */
bool rooms_parse_day(const char *s, int *weekday);
bool rooms_parse_hhmm(const char *s, int *minutes);
void rooms_fmt_hhmm(int64_t minutes, char out[8]);
/* Epoch ms of minute `minutes` after midnight of campus day `day` (campus time zone). */
int64_t rooms_day_ms(const char *day, int64_t minutes);
/* Integers and CNY amounts ("12.50" -> 1250) from admin options. */
bool rooms_parse_cny(const char *s, int64_t *fen);
void rooms_fmt_cny(int64_t fen, char out[32]);
/* Comma list membership; an empty list allows everything. */
bool rooms_in_list(const char *list, const char *item);
/* The merchant a room's money goes to: the room's, the plugin's option, the terminal's owner. */
const char *rooms_merchant(rooms *s, const room *rm, const ykt_terminal_info *t);
/* Who may book: explicit list, departments, kinds, card types. Replies NOT_ELIGIBLE. */
bool rooms_may_book(rooms *s, ykt_request *r, const room *rm, const ykt_card_info *card);
/* A money movement for the revenue report. */
int rooms_record_move(rooms *s, const char *room_id, const char *kind, int64_t amount,
                      int64_t booking, int64_t session, int64_t payment);
/* Books a slot for a card (terminal or operator); replies on refusal and returns -1, else
 * the new booking id. */
int64_t rooms_book_slot(rooms *s, ykt_request *r, const room *rm, const ykt_card_info *card,
                        const char *day, int slot, int64_t party, int64_t fee_due,
                        const char *terminal, const char *operator_name);

/* ---- rooms_seats.c ---- */

int rooms_seats_init(rooms *s);
void rooms_seats_tick(rooms *s, int64_t now);

/* ---- rooms_admin.c ---- */

int rooms_admin_init(rooms *s);

#endif
