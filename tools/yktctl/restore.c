#include "restore.h"
#include "store/backup.h"
#include "buf.h"
#include "common.h"
#include "json.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void usage(void)
{
    fputs("usage: yktctl [-c CONFIG] restore FILE [--db PATH]\n"
          "  Replaces the database (--db, or [storage] path of -c CONFIG) with the backup\n"
          "  FILE. yktd must be stopped. The backup is checked first (integrity, schema,\n"
          "  ledger audit); the old database is kept beside it as PATH.before-restore-STAMP.\n",
          stderr);
}

/* The lock yktd holds while it runs (core/src/main.c): taking it proves yktd is stopped
 * and keeps one from starting while the files are swapped. */
static int take_lock(const char *db_path)
{
    char path[YKT_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s.lock", db_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "yktctl: cannot open the lock file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "yktctl: restore: yktd is running on %s (lock %s held); stop it first: "
                "restore is offline\n",
                db_path, path);
        close(fd);
        return -1;
    }
    return fd;
}

/* The ledger of the backup must prove itself before it becomes the books. */
static bool audit_clean(const char *file)
{
    ykt_ledger_report rep;
    char err[256];
    if (ykt_store_ledger_audit(file, &rep, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "yktctl: restore: cannot audit %s: %s\n", file, err);
        return false;
    }
    bool clean = true;
    for (int i = 0; i < rep.n; i++) {
        if (rep.checks[i].violations == 0)
            continue;
        fprintf(stderr, "yktctl: restore: %s: ledger check %s: %lld violations (%s)\n", file,
                rep.checks[i].name, (long long)rep.checks[i].violations, rep.checks[i].detail);
        clean = false;
    }
    if (!clean)
        fprintf(stderr, "yktctl: restore: %s does not audit clean; nothing was changed\n", file);
    return clean;
}

int yktctl_restore(int argc, char **argv, const char *config_db_path, bool json)
{
    const char *file = NULL, *db = config_db_path;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (argv[i][0] != '-' && file == NULL)
            file = argv[i];
        else {
            fprintf(stderr, "yktctl: restore: unexpected argument %s\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (file == NULL || db == NULL) {
        if (db == NULL && file != NULL)
            fprintf(stderr, "yktctl: restore: name the database with --db PATH or -c CONFIG\n");
        usage();
        return 2;
    }
    ykt_backup_info info;
    char err[512];
    if (ykt_backup_verify(file, &info, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "yktctl: restore: %s; nothing was changed\n", err);
        return 1;
    }
    if (!audit_clean(file))
        return 1;
    int lock = take_lock(db);
    if (lock < 0)
        return 1;
    char aside[YKT_PATH_MAX];
    int rc = ykt_backup_restore(file, db, aside, sizeof aside, &info, err, sizeof err);
    close(lock);
    if (rc != YKT_OK) {
        fprintf(stderr, "yktctl: restore: %s; the database was not replaced\n", err);
        return 1;
    }
    if (json) {
        ykt_buf b;
        ykt_buf_init(&b);
        const char *names[] = {"database", "from", "previous"};
        const char *values[] = {db, file, aside};
        ykt_buf_append(&b, "{\"restored\": true", 18);
        for (int i = 0; i < 3; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, ", \"%s\": ", names[i]);
            ykt_buf_append(&b, key, (size_t)n);
            ykt_json_write_string(&b, values[i], strlen(values[i]));
        }
        printf("%.*s, \"pages\": %lld, \"bytes\": %lld, \"schema_version\": %d}\n", (int)b.len,
               b.data, (long long)info.pages, (long long)info.bytes, info.schema_version);
        ykt_buf_free(&b);
    } else
        printf("restored %s from %s: %lld pages, %lld bytes, schema version %d, integrity ok, "
               "ledger audit clean\nprevious database: %s\n",
               db, file, (long long)info.pages, (long long)info.bytes, info.schema_version,
               aside[0] ? aside : "(none)");
    return 0;
}
