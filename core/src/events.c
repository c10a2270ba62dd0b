#include "events.h"
#include "common.h"
#include "date.h"
#include "timers.h"
#include "log.h"
#include "util.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBSCRIBERS 64

typedef struct subscriber {
    int event;
    ykt_event_fn fn;
    void *userdata;
    const void *owner;
} subscriber;

/* One gateway per process: the registry is process-wide, like the timers. */
static subscriber subs[MAX_SUBSCRIBERS];
static int nsubs;

int ykt_events_subscribe(int event, ykt_event_fn fn, void *userdata, const void *owner)
{
    if (fn == NULL || event < YKT_EV_CARD_STATUS || event > YKT_EV_AUTOTOPUP)
        return YKT_EINVAL;
    if (nsubs == MAX_SUBSCRIBERS)
        return YKT_ELIMIT;
    subs[nsubs++] = (subscriber){event, fn, userdata, owner};
    return YKT_OK;
}

void ykt_events_unsubscribe_owner(const void *owner)
{
    int j = 0;
    for (int i = 0; i < nsubs; i++)
        if (subs[i].owner != owner)
            subs[j++] = subs[i];
    nsubs = j;
}

bool ykt_events_wanted(int event)
{
    for (int i = 0; i < nsubs; i++)
        if (subs[i].event == event)
            return true;
    return false;
}

void ykt_events_emit(int event, void *data)
{
    for (int i = 0; i < nsubs; i++)
        if (subs[i].event == event)
            subs[i].fn(event, data, subs[i].userdata);
}

int ykt_events_decide(int event, void *data)
{
    int answer = YKT_DEFER;
    for (int i = 0; i < nsubs; i++) {
        if (subs[i].event != event)
            continue;
        int r = subs[i].fn(event, data, subs[i].userdata);
        if (r == YKT_DENY)
            return YKT_DENY; /* one denial is enough */
        if (r == YKT_ALLOW)
            answer = YKT_ALLOW;
    }
    return answer == YKT_ALLOW ? YKT_ALLOW : YKT_DENY;
}

/* ---- notifications after commit ---- */

typedef struct pending_event {
    ykt_db *db;
    int event;
    char card_no[16], old_card_no[16], merchant[32], old_status[12], new_status[12];
    int64_t person_id, amount, balance;
} pending_event;

static void deliver(void *arg, bool committed)
{
    pending_event *e = arg;
    /* A subscriber may record what it learns: its writes join the next batch. */
    bool writable = committed && ykt_db_cmd_begin(e->db) == YKT_OK;
    if (committed) {
        if (e->event == YKT_EV_CARD_STATUS || e->event == YKT_EV_CARD_REPLACED) {
            ykt_ev_card ev = {.size = sizeof ev,
                              .card_no = e->card_no,
                              .old_card_no = e->old_card_no,
                              .person_id = e->person_id,
                              .old_status = e->old_status,
                              .new_status = e->new_status};
            ykt_events_emit(e->event, &ev);
        } else {
            ykt_ev_money ev = {.size = sizeof ev,
                               .person_id = e->person_id,
                               .card_no = e->card_no,
                               .merchant = e->merchant,
                               .amount = e->amount,
                               .balance = e->balance};
            ykt_events_emit(e->event, &ev);
        }
    }
    if (writable)
        ykt_db_cmd_end(e->db, true);
    free(e);
}

static pending_event *later(ykt_db *db, int event)
{
    if (!ykt_events_wanted(event))
        return NULL; /* nobody listens: no allocation on the payment path */
    pending_event *e = calloc(1, sizeof *e);
    if (e != NULL) {
        e->db = db;
        e->event = event;
    }
    return e;
}

void ykt_events_card_status_later(ykt_db *db, const char *card_no, int64_t person_id,
                                  const char *old_status, const char *new_status)
{
    pending_event *e = later(db, YKT_EV_CARD_STATUS);
    if (e == NULL)
        return;
    ykt_strlcpy(e->card_no, card_no, sizeof e->card_no);
    ykt_strlcpy(e->old_status, old_status, sizeof e->old_status);
    ykt_strlcpy(e->new_status, new_status, sizeof e->new_status);
    e->person_id = person_id;
    ykt_db_on_commit(db, deliver, e);
}

void ykt_events_card_replaced_later(ykt_db *db, const char *old_card_no, const char *card_no,
                                    int64_t person_id)
{
    pending_event *e = later(db, YKT_EV_CARD_REPLACED);
    if (e == NULL)
        return;
    ykt_strlcpy(e->card_no, card_no, sizeof e->card_no);
    ykt_strlcpy(e->old_card_no, old_card_no, sizeof e->old_card_no);
    e->person_id = person_id;
    ykt_db_on_commit(db, deliver, e);
}

void ykt_events_money_later(ykt_db *db, int event, int64_t person_id, const char *card_no,
                            const char *merchant, int64_t amount, int64_t balance)
{
    pending_event *e = later(db, event);
    if (e == NULL)
        return;
    ykt_strlcpy(e->card_no, card_no ? card_no : "", sizeof e->card_no);
    ykt_strlcpy(e->merchant, merchant ? merchant : "", sizeof e->merchant);
    e->person_id = person_id;
    e->amount = amount;
    e->balance = balance;
    ykt_db_on_commit(db, deliver, e);
}

/* ---- the clock: TICK every second, DAY_END when the campus date changes ---- */

/* The campus date DAY_END last announced, kept in the meta table (as YYYYMMDD) so that a
 * restart across midnight still announces the new day, once. */
static char campus_day[YKT_DATE_LEN];

#define DAY_KEY "day_end_announced"

static int64_t day_number(const char *day)
{
    return (int64_t)atoi(day) * 10000 + atoi(day + 5) * 100 + atoi(day + 8);
}

void ykt_events_day_end(ykt_gw *gw, const char *day)
{
    ykt_ev_day ev = {.size = sizeof ev, .day = day};
    ykt_events_emit(YKT_EV_DAY_END, &ev);
    int64_t last = 0;
    ykt_store_meta_get(gw->db, DAY_KEY, &last);
    if (day_number(day) > last && ykt_store_meta_set(gw->db, DAY_KEY, day_number(day)) != YKT_OK)
        ykt_error("day end %s: cannot record it; it may be announced again", day);
}

static void clock_tick(ykt_gw *gw, void *arg)
{
    (void)arg;
    char today[YKT_DATE_LEN];
    ykt_today(today);
    bool new_day = campus_day[0] != '\0' && strcmp(today, campus_day) != 0;
    if (!new_day && !ykt_events_wanted(YKT_EV_TICK)) {
        ykt_strlcpy(campus_day, today, sizeof campus_day);
        return;
    }
    /* Subscribers may write; while a commit is in flight, try again next second (a day end
     * is never skipped, only late by a second). */
    if (ykt_db_cmd_begin(gw->db) != YKT_OK)
        return;
    if (new_day)
        ykt_events_day_end(gw, today);
    ykt_strlcpy(campus_day, today, sizeof campus_day);
    ykt_events_emit(YKT_EV_TICK, NULL);
    ykt_db_cmd_end(gw->db, true);
}

int ykt_events_clock_start(ykt_gw *gw)
{
    ykt_today(campus_day);
    int64_t last = 0;
    if (ykt_store_meta_get(gw->db, DAY_KEY, &last) == YKT_OK && last < day_number(campus_day)) {
        /* yktd was down when the date changed: the first tick announces today. */
        char buf[32];
        snprintf(buf, sizeof buf, "%04u-%02u-%02u", (unsigned)(last / 10000) % 10000u,
                 (unsigned)(last / 100 % 100), (unsigned)(last % 100));
        ykt_strlcpy(campus_day, buf, sizeof campus_day);
    } else if (last == 0 && ykt_db_cmd_begin(gw->db) == YKT_OK) {
        /* A new database: today needs no announcement. */
        int rc = ykt_store_meta_set(gw->db, DAY_KEY, day_number(campus_day));
        ykt_db_cmd_end(gw->db, rc == YKT_OK);
    }
    return ykt_timer_every(gw, 1000, 1000, clock_tick, NULL, NULL);
}
