/* Card verbs on the terminal port (CARD.INFO, BLACKLIST, CARD.PASSWD, CARD.REPORT_LOSS). */
#ifndef YKT_CARD_VERBS_H
#define YKT_CARD_VERBS_H

#include "verbs.h"

int ykt_card_verbs_register(ykt_verbs *v);

/* A holder's own loss report once their query password matched (CARD.REPORT_LOSS at a
 * kiosk, the web portal): their live credential of medium ("card", "phone") becomes lost,
 * audited as the holder at `where`. Replies: OK, "OK already reported lost", NOT_FOUND. */
void ykt_card_holder_loss(ykt_req *req, int64_t person_id, const char *person_no,
                          const char *medium, const char *where);

#endif
