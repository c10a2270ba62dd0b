/*
 * Events and decisions between the core and plugins (see include/ykt/plugin.h for the event
 * types and their structs). Notifications about committed changes are delivered after the
 * batch commits; decisions (allow / deny / defer) are asked synchronously, and when every
 * subscriber defers the answer is deny.
 */
#ifndef YKT_EVENTS_H
#define YKT_EVENTS_H

#include "db.h"
#include "gateway.h"
#include "ykt/plugin.h"

int ykt_events_subscribe(int event, ykt_event_fn fn, void *userdata, const void *owner);
/* Removes every subscription of owner. */
void ykt_events_unsubscribe_owner(const void *owner);
/* Delivers a notification now. */
void ykt_events_emit(int event, void *data);
/* Asks the subscribers of a decision event: YKT_ALLOW or YKT_DENY. */
int ykt_events_decide(int event, void *data);
bool ykt_events_wanted(int event);

/* Notifications about a change of the current request, delivered once it commits (and
 * not at all if it rolls back). The strings are copied. */
void ykt_events_card_status_later(ykt_db *db, const char *card_no, int64_t person_id,
                                  const char *old_status, const char *new_status);
void ykt_events_card_replaced_later(ykt_db *db, const char *old_card_no, const char *card_no,
                                    int64_t person_id);
void ykt_events_money_later(ykt_db *db, int event, int64_t person_id, const char *card_no,
                            const char *merchant, int64_t amount, int64_t balance);

/* Starts the gateway clock: YKT_EV_TICK once a second, YKT_EV_DAY_END when the campus date
 * changes (both delivered inside a request savepoint, so subscribers may write). */
int ykt_events_clock_start(ykt_gw *gw);
/* Announces DAY_END for day (YYYY-MM-DD) to the plugins now, inside the caller's request
 * or batch, and records it as announced (`yktctl job run day-end`, and the clock). */
void ykt_events_day_end(ykt_gw *gw, const char *day);

#endif
