/* Card verbs on the terminal port (CARD.INFO, BLACKLIST, CARD.PASSWD, CARD.REPORT_LOSS). */
#ifndef YKT_CARD_VERBS_H
#define YKT_CARD_VERBS_H

#include "verbs.h"

int ykt_card_verbs_register(ykt_verbs *v);

#endif
