#include "admin.h"
#include "admin_cmds.h"
#include "store/backup.h"
#include "common.h"
#include "log.h"
#include "request.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- backup FILE: an online copy while terminals keep paying (R-S4) ---- */

typedef struct backup_job {
    char src[YKT_PATH_MAX];
    char dest[YKT_PATH_MAX];
    ykt_backup_info info;
    int rc;
    char err[512];
} backup_job;

static void backup_work(void *data)
{
    backup_job *job = data;
    job->rc = ykt_backup_copy(job->src, job->dest, &job->info, job->err, sizeof job->err);
}

static void backup_done(ykt_req *req, void *data)
{
    backup_job *job = data;
    if (req->abandoned)
        goto out;
    if (job->rc != YKT_OK) {
        ykt_error("backup to %s failed: %s", job->dest, job->err);
        ykt_reply_error(req, job->rc == YKT_EEXIST ? "EXISTS" : "BACKUP_FAILED", "%s", job->err);
        goto out;
    }
    int rc = ykt_audit(req, req->args, "backup", job->dest, "%lld bytes, schema version %d",
                       (long long)job->info.bytes, job->info.schema_version);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    ykt_info("backup %s: %lld pages, %lld bytes, %lld ms", job->dest, (long long)job->info.pages,
             (long long)job->info.bytes, (long long)job->info.ms);
    static const char *const cols[] = {"file",           "bytes", "pages",
                                       "schema_version", "ms",    "integrity"};
    ykt_table *t = ykt_table_new("TABLE", 6, cols);
    ykt_table_row(t);
    ykt_table_str(t, job->dest);
    ykt_table_int(t, job->info.bytes);
    ykt_table_int(t, job->info.pages);
    ykt_table_int(t, job->info.schema_version);
    ykt_table_int(t, job->info.ms);
    ykt_table_str(t, "ok");
    ykt_table_send(req, t);
out:
    free(job);
}

static void cmd_backup(ykt_req *req, const ykt_args *a)
{
    const char *dest = a->pos[0];
    /* The path is yktd's, not the client's: yktctl sends it absolute. */
    if (dest[0] != '/' || strlen(dest) >= YKT_PATH_MAX - 16) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "the backup file must be an absolute path (at most %d "
                        "bytes)",
                        YKT_PATH_MAX - 16);
        return;
    }
    if (strcmp(dest, ykt_db_path(req->gw->db)) == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "the backup file is the live database");
        return;
    }
    backup_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    ykt_strlcpy(job->src, ykt_db_path(req->gw->db), sizeof job->src);
    ykt_strlcpy(job->dest, dest, sizeof job->dest);
    ykt_req_defer(req, backup_work, backup_done, job);
}

static const ykt_admin_cmd cmds[] = {
    {"backup", NULL, cmd_backup, YKT_ROLE_SUPERUSER, true, 1, 1, "", "backup FILE",
     "Copy the live database into FILE (new; yktd's filesystem) while it keeps serving, and "
     "check the copy's integrity. Restore offline: yktctl restore."},
};

int ykt_admin_backup_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
