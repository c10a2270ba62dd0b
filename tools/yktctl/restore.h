#ifndef YKTCTL_RESTORE_H
#define YKTCTL_RESTORE_H

/*
 * yktctl restore FILE [--db PATH]: the offline half of backups (R-S4). Needs no yktd — it
 * must not run: the database's lock file proves it. db_path comes from --db or from the
 * configuration given with -c (NULL if neither). Returns the process exit status.
 */
#include <stdbool.h>

int yktctl_restore(int argc, char **argv, const char *config_db_path, bool json);

#endif
