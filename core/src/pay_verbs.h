/* Money verbs on the terminal port (PAY, PAY.OFFLINE, HOLD, CAPTURE, VOID, TOPUP). */
#ifndef YKT_PAY_VERBS_H
#define YKT_PAY_VERBS_H

#include "verbs.h"

int ykt_pay_verbs_register(ykt_verbs *v);

#endif
