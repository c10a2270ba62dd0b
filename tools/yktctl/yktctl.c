/*
 * yktctl: the administrator's command line. It sends its words to yktd's admin socket as
 * one RESP command and prints the reply; the gateway parses, checks roles and audits, so
 * yktctl, redis-cli -s and the web portal all speak the same commands.
 *
 *   yktctl [-s SOCKET | -c CONFIG] [-u OPERATOR] [--json] COMMAND [ARGS...]
 */
#include "client.h"
#include "common.h"
#include "config.h"
#include "render.h"
#include "restore.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#define MAX_ARGS     256
#define PASSWORD_MAX 256

static bool csv_output;  /* --csv: tables as CSV */
static bool help_output; /* the command is `help`: its table is printed as blocks */

static void usage(FILE *out)
{
    fputs("usage: yktctl [-s SOCKET | -c CONFIG] [-u OPERATOR] [--json | --csv]\n"
          "              COMMAND [ARGS...]\n"
          "       yktctl [-c CONFIG] restore FILE [--db PATH]   (offline: yktd stopped)\n"
          "\n"
          "  -s SOCKET      admin socket (default: $YKTCTL_SOCKET or var/yktd.sock)\n"
          "  -c CONFIG      take the socket from this yktd configuration file\n"
          "  -u OPERATOR    log in as OPERATOR (password from $YKTCTL_PASSWORD,\n"
          "                 --password-file, or asked on the terminal)\n"
          "  --password-file FILE   read the operator's password from FILE\n"
          "  --json         print the reply as JSON; an error also as\n"
          "                 {\"error\":\"CODE\",\"message\":\"...\"} on stdout (exit status 1)\n"
          "  --csv          print tables as CSV (for a spreadsheet or a PIN-mailer printer)\n"
          "\n"
          "Without -u, a client running as root or as yktd's user is the local superuser.\n"
          "`yktctl help` lists every command; `yktctl passwd` changes your password;\n"
          "`yktctl backup FILE` copies the live database, `restore` puts a copy back.\n",
          out);
}

/* Reads a line from the terminal without echo. */
static int prompt_secret(const char *prompt, char *out, size_t len)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    FILE *tty = fdopen(fd, "r+");
    if (tty == NULL) {
        close(fd);
        return -1;
    }
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, tty);
    fflush(tty);
    char *ok = fgets(out, (int)len, tty);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    if (ok == NULL)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int read_password_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "yktctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *ok = fgets(out, (int)len, f);
    fclose(f);
    if (ok == NULL) {
        fprintf(stderr, "yktctl: %s: empty\n", path);
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* An error reply: the line for people on stderr, and with --json the same as an object on
 * stdout, where a script reads every other reply (as cardsim --json does). */
static void report_error(const ykt_reply *r, bool json)
{
    fprintf(stderr, "yktctl: %s\n", r->str);
    if (json)
        render_json_error(stdout, r);
}

/* Prints a reply and returns the exit status for it: 1 for an error or a refusal. */
static int report(const ykt_reply *r, bool json)
{
    if (r->type == YKT_REPLY_ERROR) {
        report_error(r, json);
        return 1;
    }
    if (r->type == YKT_REPLY_ARRAY && r->nelem >= 2 && r->elem[0]->type == YKT_REPLY_STATUS &&
        (strcmp(r->elem[0]->str, "REJECTED") == 0 || strcmp(r->elem[0]->str, "VIOLATIONS") == 0)) {
        if (strcmp(r->elem[0]->str, "REJECTED") == 0)
            fprintf(stderr, "yktctl: REJECTED nothing was changed; every problem is listed:\n");
        else
            fprintf(stderr, "yktctl: AUDIT_FAILED the ledger violates its invariants:\n");
        if (json)
            render_json(stdout, r);
        else
            render_text(stdout, r);
        return 1;
    }
    if (json)
        render_json(stdout, r);
    else if (csv_output)
        render_csv(stdout, r);
    else if (help_output)
        render_help(stdout, r);
    else
        render_text(stdout, r);
    return 0;
}

/*
 * `card batch-issue` answers with its per-row report even when rows were refused: the cards
 * of the other rows are issued and kept, so the reply is not an error. A script (or the
 * PIN-mailer run) must still notice the refused rows: after printing the report, they make
 * the exit status 1, with a note on stderr. True when the reply has such rows.
 */
static bool batch_refused(int nargs, const char **args, const ykt_reply *r)
{
    if (nargs < 2 || strcasecmp(args[0], "card") != 0 || strcasecmp(args[1], "batch-issue") != 0 ||
        r->type != YKT_REPLY_ARRAY || r->nelem < 2 || r->elem[1]->type != YKT_REPLY_ARRAY)
        return false;
    const ykt_reply *cols = r->elem[1];
    size_t result = cols->nelem;
    for (size_t k = 0; k < cols->nelem; k++)
        if (cols->elem[k]->str != NULL && strcmp(cols->elem[k]->str, "result") == 0)
            result = k;
    size_t refused = 0, rows = r->nelem - 2;
    for (size_t i = 2; result < cols->nelem && i < r->nelem; i++) {
        const ykt_reply *row = r->elem[i];
        if (row->type == YKT_REPLY_ARRAY && result < row->nelem &&
            (row->elem[result]->str == NULL || strcmp(row->elem[result]->str, "issued") != 0))
            refused++;
    }
    if (refused > 0)
        fprintf(stderr, "yktctl: %zu of %zu rows refused (the result column says why)\n", refused,
                rows);
    return refused > 0;
}

/* Commands whose first argument is a file whose bytes are sent. */
/* Commands whose first positional argument is a file: `person import`, a plugin's
 * `library import`, `access resident-import` (any `import` or `*-import`), `bank reconcile
 * STATEMENT`, `rules test`. The core (admin.c) knows the
 * same list: their data may hold any byte. */
static bool sends_file(const char *group, const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "import") == 0 || (n > 7 && strcmp(name + n - 7, "-import") == 0) ||
           strcmp(name, "reconcile") == 0 ||
           (strcmp(group, "rules") == 0 && strcmp(name, "test") == 0);
}

/*
 * `person import FILE` (and `people import FILE`, `rules test FILE`) send the file's bytes,
 * not its name: the gateway may run on another machine's view of the file system, and the
 * web portal uploads the same way. Returns the buffer to free, or NULL when the command takes
 * no file.
 */
static char *read_import_file(int argc, const char **argv, size_t *argl, char *name, size_t namelen,
                              int *status)
{
    *status = 0;
    if (argc < 3 || !sends_file(argv[0], argv[1]) || argv[2][0] == '-')
        return NULL;
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) {
        fprintf(stderr, "yktctl: %s: %s\n", argv[2], strerror(errno));
        *status = 2;
        return NULL;
    }
    ykt_buf b;
    ykt_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        ykt_buf_append(&b, chunk, n);
        if (b.len > (size_t)1 << 30) {
            fprintf(stderr, "yktctl: %s: larger than 1 GiB\n", argv[2]);
            *status = 2;
            break;
        }
    }
    fclose(f);
    if (*status != 0) {
        ykt_buf_free(&b);
        return NULL;
    }
    const char *base = strrchr(argv[2], '/');
    ykt_strlcpy(name, base ? base + 1 : argv[2], namelen);
    argl[2] = b.len;
    ykt_buf_reserve(&b, 0);
    return b.data;
}

static ykt_reply *call(ykt_client *c, int argc, const char *const *argv)
{
    ykt_reply *r = ykt_client_call(c, argc, argv, NULL);
    if (r == NULL)
        fprintf(stderr, "yktctl: %s\n", c->err);
    return r;
}

static int login(ykt_client *c, const char *user, const char *password_file, bool json)
{
    char password[PASSWORD_MAX];
    const char *env = getenv("YKTCTL_PASSWORD");
    if (password_file != NULL) {
        if (read_password_file(password_file, password, sizeof password) != 0)
            return 2;
    } else if (env != NULL) {
        ykt_strlcpy(password, env, sizeof password);
    } else {
        char prompt[128];
        snprintf(prompt, sizeof prompt, "password for %s: ", user);
        if (prompt_secret(prompt, password, sizeof password) != 0) {
            fprintf(stderr, "yktctl: no terminal to ask for the password; "
                            "set YKTCTL_PASSWORD or use --password-file\n");
            return 2;
        }
    }
    const char *argv[] = {"login", user, password};
    ykt_reply *r = call(c, 3, argv);
    ykt_wipe(password, sizeof password);
    if (r == NULL)
        return 2;
    int rc = 0;
    if (r->type == YKT_REPLY_ERROR) {
        report_error(r, json);
        rc = 1;
    } else if (r->type == YKT_REPLY_STATUS && strcmp(r->str, "OK") != 0) {
        fprintf(stderr, "yktctl: %s\n", r->str + 3); /* e.g. change your initial password */
    }
    ykt_reply_free(r);
    return rc;
}

/* `passwd` with no arguments asks for the current and new password on the terminal. */
static int interactive_passwd(ykt_client *c, bool json)
{
    char old[PASSWORD_MAX], fresh[PASSWORD_MAX], again[PASSWORD_MAX];
    if (prompt_secret("current password: ", old, sizeof old) != 0 ||
        prompt_secret("new password: ", fresh, sizeof fresh) != 0 ||
        prompt_secret("new password again: ", again, sizeof again) != 0) {
        fprintf(stderr, "yktctl: passwd needs a terminal (or: yktctl passwd OLD NEW)\n");
        return 2;
    }
    if (strcmp(fresh, again) != 0) {
        fprintf(stderr, "yktctl: the new passwords differ; nothing changed\n");
        return 1;
    }
    const char *argv[] = {"passwd", old, fresh};
    ykt_reply *r = call(c, 3, argv);
    ykt_wipe(old, sizeof old);
    ykt_wipe(fresh, sizeof fresh);
    ykt_wipe(again, sizeof again);
    if (r == NULL)
        return 2;
    int rc = report(r, json);
    ykt_reply_free(r);
    return rc;
}

/* path made absolute against the working directory (the file need not exist yet). */
static bool absolute_path(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return false;
    if ((size_t)snprintf(out, len, "%s/%s", cwd, path) >= len) {
        errno = ENAMETOOLONG;
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    const char *socket_path = getenv("YKTCTL_SOCKET");
    const char *config_path = NULL;
    const char *user = getenv("YKTCTL_USER");
    const char *password_file = NULL;
    bool json = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-s") == 0 && i + 1 < argc)
            socket_path = argv[++i];
        else if (strcmp(a, "-c") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(a, "-u") == 0 && i + 1 < argc)
            user = argv[++i];
        else if (strcmp(a, "--password-file") == 0 && i + 1 < argc)
            password_file = argv[++i];
        else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--csv") == 0)
            csv_output = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "yktctl: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    static ykt_config cfg;
    if (config_path != NULL) {
        char err[512];
        ykt_config_defaults(&cfg);
        if (ykt_config_load(&cfg, config_path, err, sizeof err) != YKT_OK) {
            fprintf(stderr, "yktctl: %s\n", err);
            return 2;
        }
        socket_path = cfg.admin_socket;
    }
    if (socket_path == NULL)
        socket_path = "var/yktd.sock";
    if (strcmp(argv[i], "restore") == 0)
        return yktctl_restore(argc - i, argv + i, config_path ? cfg.storage_path : NULL, json);
    int nargs = argc - i;
    help_output = strcasecmp(argv[i], "help") == 0;
    if (nargs > MAX_ARGS) {
        fprintf(stderr, "yktctl: too many arguments\n");
        return 2;
    }

    ykt_client c;
    if (ykt_client_connect_unix(&c, socket_path) != 0) {
        fprintf(stderr, "yktctl: %s (is yktd running? -s or -c names the socket)\n", c.err);
        return 2;
    }
    int rc = 0;
    if (user != NULL && *user != '\0')
        rc = login(&c, user, password_file, json);
    if (rc == 0) {
        const char *args[MAX_ARGS + 4];
        size_t argl[MAX_ARGS + 4];
        for (int k = 0; k < nargs; k++) {
            args[k] = argv[i + k];
            argl[k] = strlen(argv[i + k]);
        }
        /* backup FILE names a file on yktd's side: a relative path means the caller's. */
        char absolute[PATH_MAX + 2];
        if (nargs == 2 && strcmp(args[0], "backup") == 0 && args[1][0] != '/') {
            if (!absolute_path(args[1], absolute, sizeof absolute)) {
                fprintf(stderr, "yktctl: backup: %s: %s\n", args[1], strerror(errno));
                ykt_client_close(&c);
                return 2;
            }
            args[1] = absolute;
            argl[1] = strlen(absolute);
        }
        char name[256];
        int file_status;
        char *file = read_import_file(nargs, args, argl, name, sizeof name, &file_status);
        if (nargs == 1 && strcmp(argv[i], "passwd") == 0) {
            rc = interactive_passwd(&c, json);
        } else if (file_status != 0) {
            rc = file_status;
        } else if (file != NULL) {
            /* group name [options] --name NAME -- BYTES: after "--" the file's bytes are
             * positional even when they start with "--" (a Lua comment, say). */
            size_t file_len = argl[2];
            for (int k = 3; k < nargs; k++) {
                args[k - 1] = args[k];
                argl[k - 1] = argl[k];
            }
            int n = nargs - 1;
            args[n] = "--name";
            argl[n++] = 6;
            args[n] = name;
            argl[n++] = strlen(name);
            args[n] = "--";
            argl[n++] = 2;
            args[n] = file;
            argl[n++] = file_len;
            ykt_reply *r = ykt_client_call(&c, n, args, argl);
            if (r == NULL) {
                fprintf(stderr, "yktctl: %s\n", c.err);
                rc = 2;
            } else {
                rc = report(r, json);
                ykt_reply_free(r);
            }
            free(file);
        } else {
            ykt_reply *r = call(&c, nargs, args);
            if (r == NULL) {
                rc = 2;
            } else {
                rc = report(r, json);
                if (rc == 0 && batch_refused(nargs, args, r))
                    rc = 1;
                ykt_reply_free(r);
            }
        }
    }
    ykt_client_close(&c);
    return rc;
}
