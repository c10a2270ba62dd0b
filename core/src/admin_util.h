/* Helpers shared by the admin commands about people and cards. */
#ifndef YKT_ADMIN_UTIL_H
#define YKT_ADMIN_UTIL_H

#include <stdbool.h>

#include "admin.h"
#include "card.h"
#include "person.h"

/* Loads a person by number; replies NOT_FOUND (or an internal error) and returns false. */
bool ykt_admin_person(ykt_req *req, const char *person_no, ykt_person *out);
/* Loads a card by number; replies NOT_FOUND and returns false. */
bool ykt_admin_card(ykt_req *req, const char *card_no, ykt_card *out);
/* Department roles see only their own department (R-S2); others see everyone. Replies
 * FORBIDDEN and returns false. */
bool ykt_admin_may_see(ykt_req *req, const ykt_person *p);
/*
 * The counter's identity check (R-C4, R-C5): --id-number must be given and equal the
 * holder's own ID number. Replies ID_REQUIRED or ID_MISMATCH and returns false. The number
 * typed is compared, never shown.
 */
bool ykt_admin_id_check(ykt_req *req, const ykt_args *a, const ykt_person *p);
/* "local:root" style actor name for events. */
const char *ykt_admin_actor(ykt_req *req);
/* Validates an optional text option: at most max bytes of printable UTF-8. */
bool ykt_admin_text(ykt_req *req, const ykt_args *a, const char *name, size_t max,
                    const char **out);
/* The merchant categories, as the merchants table's CHECK constraint lists them; NULL ends
 * the list (defined with the merchant commands, admin_wallet.c). */
extern const char *const ykt_merchant_categories[];

#endif
