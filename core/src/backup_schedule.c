#define _GNU_SOURCE /* strptime, timegm */
#include "backup_schedule.h"
#include "admin.h"
#include "store/backup.h"
#include "common.h"
#include "log.h"
#include "server.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NAME_PREFIX "ykt-"
#define NAME_SUFFIX ".db"
#define STAMP_LEN   16 /* YYYYMMDDTHHMMSSZ */

typedef struct backup_job {
    char src[YKT_PATH_MAX];
    char dest[YKT_PATH_MAX + 64];
    ykt_backup_info info;
    int rc;
    char err[512];
} backup_job;

static bool running;

/* ykt-YYYYMMDDTHHMMSSZ.db: the names this schedule writes; nothing else is ever deleted. */
static bool is_scheduled_name(const char *name)
{
    size_t n = strlen(name);
    if (n != strlen(NAME_PREFIX) + STAMP_LEN + strlen(NAME_SUFFIX) ||
        strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
        strcmp(name + n - strlen(NAME_SUFFIX), NAME_SUFFIX) != 0)
        return false;
    const char *s = name + strlen(NAME_PREFIX);
    for (int i = 0; i < STAMP_LEN; i++) {
        bool ok = i == 8 ? s[i] == 'T' : i == 15 ? s[i] == 'Z' : s[i] >= '0' && s[i] <= '9';
        if (!ok)
            return false;
    }
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scheduled backups in dir, oldest first (the stamp sorts as text). */
static int list_backups(const char *dir, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_scheduled_name(e->d_name))
            continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **p = realloc(names, (size_t)ncap * sizeof *names);
            if (p == NULL)
                break;
            names = p;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            break;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, (size_t)n, sizeof *names, cmp_names);
    *out = names;
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* UTC seconds of a scheduled name's stamp. */
static int64_t stamp_seconds(const char *name)
{
    struct tm tm = {0};
    if (strptime(name + strlen(NAME_PREFIX), "%Y%m%dT%H%M%SZ", &tm) == NULL)
        return 0;
    return (int64_t)timegm(&tm);
}

static void backup_work(void *data)
{
    backup_job *job = data;
    job->rc = ykt_backup_copy(job->src, job->dest, &job->info, job->err, sizeof job->err);
}

static void prune(const ykt_gw *gw)
{
    char **names;
    int n = list_backups(gw->cfg.backup_dir, &names);
    for (int i = 0; i < n - (int)gw->cfg.backup_keep; i++) {
        char path[YKT_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", gw->cfg.backup_dir, names[i]);
        if (unlink(path) == 0)
            ykt_info("backup: deleted %s (keeping the newest %lld)", path,
                     (long long)gw->cfg.backup_keep);
        else
            ykt_warn("backup: cannot delete %s: %s", path, strerror(errno));
    }
    if (n > 0)
        free_names(names, n);
}

static void backup_after(ykt_gw *gw, void *data)
{
    backup_job *job = data;
    running = false;
    if (job->rc != YKT_OK) {
        ykt_error("scheduled backup failed: %s; retrying at the next tick", job->err);
    } else {
        ykt_info("scheduled backup %s: %lld pages, %lld bytes, schema version %d, %lld ms",
                 job->dest, (long long)job->info.pages, (long long)job->info.bytes,
                 job->info.schema_version, (long long)job->info.ms);
        if (!gw->stopping && ykt_db_cmd_begin(gw->db) == YKT_OK) {
            int rc = ykt_audit_write(gw->db, "system:backup", "system", "backup", job->dest, NULL,
                                     "scheduled; %lld bytes", (long long)job->info.bytes);
            ykt_db_cmd_end(gw->db, rc == YKT_OK);
        }
        prune(gw);
    }
    free(job);
}

void ykt_backup_schedule_tick(ykt_gw *gw)
{
    const char *dir = gw->cfg.backup_dir;
    if (dir[0] == '\0' || running || gw->stopping)
        return;
    char **names;
    int n = list_backups(dir, &names);
    if (n < 0) {
        ykt_error("scheduled backup: cannot read [backup] dir %s: %s", dir, strerror(errno));
        return;
    }
    int64_t newest = n > 0 ? stamp_seconds(names[n - 1]) : 0;
    free_names(names, n);
    int64_t now = (int64_t)time(NULL);
    if (newest > 0 && (now - newest) * 1000 < gw->cfg.backup_interval_ms)
        return;
    backup_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return;
    ykt_strlcpy(job->src, ykt_db_path(gw->db), sizeof job->src);
    char stamp[STAMP_LEN + 1];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(job->dest, sizeof job->dest, "%s/" NAME_PREFIX "%s" NAME_SUFFIX, dir, stamp);
    running = true;
    ykt_server_queue_work(gw, backup_work, backup_after, job);
}
