#ifndef YKT_BACKUP_SCHEDULE_H
#define YKT_BACKUP_SCHEDULE_H

#include "gateway.h"

/*
 * Scheduled online backups ([backup] dir, interval, keep): called every minute from the
 * server's jobs timer. When the newest ykt-*.db in the directory is older than the
 * interval (or there is none), a backup runs on the thread pool; after it succeeds the
 * oldest ones beyond `keep` are deleted. A failure is logged and retried at the next tick.
 */
void ykt_backup_schedule_tick(ykt_gw *gw);

#endif
