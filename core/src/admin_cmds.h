/* Registration functions of the core's admin command groups (one file each). */
#ifndef YKT_ADMIN_CMDS_H
#define YKT_ADMIN_CMDS_H

#include "admin.h"

int ykt_admin_operator_register(ykt_admin *adm); /* login, passwd, operator ... */
int ykt_admin_terminal_register(ykt_admin *adm); /* terminal ... */
int ykt_admin_status_register(ykt_admin *adm);   /* status, conn list, audit list */
int ykt_admin_person_register(ykt_admin *adm);   /* person ..., approval ... */
int ykt_admin_card_register(ykt_admin *adm);     /* card ... */
int ykt_admin_account_register(ykt_admin *adm);  /* account ..., job ... */
int ykt_admin_import_register(ykt_admin *adm);   /* person import */
int ykt_admin_wallet_register(ykt_admin *adm);   /* merchant, payment, settlement, audit ... */
int ykt_admin_backup_register(ykt_admin *adm);   /* backup */
int ykt_admin_rules_register(ykt_admin *adm);    /* rules list|reload|test, plugin list */
int ykt_admin_portal_register(ykt_admin *adm);   /* portal verify|report-loss|passwd */

#endif
