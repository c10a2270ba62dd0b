/*
 * ykt-bench door: ACCESS.OPEN, a card at a door, decided by the access plugin.
 *
 * The private yktd loads the access plugin ([plugin.access] enabled, the plugins of this
 * build tree). Each connection is one gate terminal registered as a door of one door group;
 * one access group with an all-week window opens it, and every card's holder is a member.
 * So each swipe goes the whole way: the card checks, the decision chain
 * (YKT_EV_ACCESS_CHECK), the plugin's membership and window lookups, the decision log row
 * and the request's outcome, replied after the group commit.
 *
 * The load (driver threads, pacing, latency, report) is swipeload.c's, as for `swipe`.
 */
#include "common.h"
#include "swipeload.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOOR_GROUP   "bench-doors"
#define ACCESS_GROUP "bench-people"

/* The expected reply: [OPEN, masked name, log id]. */
static bool opened(const ykt_reply *r, const ykt_fleet_card *card, char *why, size_t len)
{
    (void)card;
    if (r->type == YKT_REPLY_ARRAY && r->nelem == 3 && r->elem[0]->type == YKT_REPLY_BULK &&
        strcmp(r->elem[0]->str, "OPEN") == 0 && r->elem[2]->type == YKT_REPLY_INT)
        return true;
    snprintf(why, len, "not [OPEN, name, log id]");
    return false;
}

/* The build tree's plugins: next to the yktd given (its ../plugins), or to this binary
 * (../../plugins). */
static int plugins_dir(const char *yktd, char *out, size_t len)
{
    char path[PATH_MAX], real[PATH_MAX];
    if (yktd != NULL) {
        snprintf(path, sizeof path, "%s", yktd);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) {
            fprintf(stderr, "ykt-bench door: cannot find my own binary; give --yktd PATH\n");
            return -1;
        }
        path[n] = '\0';
    }
    char *slash = strrchr(path, '/');
    if (slash != NULL)
        *slash = '\0';
    char guess[PATH_MAX + 32];
    snprintf(guess, sizeof guess, "%s/%s", path, yktd != NULL ? "../plugins" : "../../plugins");
    char so[PATH_MAX + 16];
    if (realpath(guess, real) == NULL ||
        snprintf(so, sizeof so, "%s/access.so", real) >= (int)sizeof so || access(so, R_OK) != 0) {
        fprintf(stderr,
                "ykt-bench door: no access.so in %s: build the access plugin (cmake --build "
                "BUILD --target access)\n",
                guess);
        return -1;
    }
    snprintf(out, len, "%s", real);
    return 0;
}

/* One admin command, which must not fail. */
static int admin(ykt_client *c, int argc, const char *const *argv)
{
    ykt_reply *r = ykt_client_call(c, argc, argv, NULL);
    if (r == NULL || r->type == YKT_REPLY_ERROR) {
        fprintf(stderr, "ykt-bench door: %s %s: %s\n", argv[0], argc > 1 ? argv[1] : "",
                r == NULL ? c->err : r->str);
        if (r != NULL)
            ykt_reply_free(r);
        return -1;
    }
    ykt_reply_free(r);
    return 0;
}

/* One door group with a door per gate terminal, one access group open all week that opens
 * it, and every card holder a member (one CSV import). */
static int configure_doors(const ykt_benchgw *gw, const ykt_fleet *fleet)
{
    ykt_client c;
    if (ykt_benchgw_admin(gw, &c) != 0)
        return -1;
    int rc = 0;
    const char *dg[] = {"access", "doorgroup-add", DOOR_GROUP};
    const char *grp[] = {"access", "group-add", ACCESS_GROUP};
    const char *win[] = {"access", "window-add", ACCESS_GROUP, "--days", "all",
                         "--from", "00:00",      "--to",       "24:00"};
    const char *grant[] = {"access", "grant", ACCESS_GROUP, DOOR_GROUP};
    rc = admin(&c, 3, dg);
    for (int k = 0; rc == 0 && k < fleet->nterminals; k++) {
        char id[48];
        snprintf(id, sizeof id, "door-%d", k + 1);
        const char *door[] = {"access", "door-add", id,        "--terminal", fleet->terminals[k].id,
                              "--kind", "teaching", "--group", DOOR_GROUP,   "--direction",
                              "both"};
        rc = admin(&c, (int)YKT_ARRAY_LEN(door), door);
    }
    if (rc == 0)
        rc = admin(&c, 3, grp);
    if (rc == 0)
        rc = admin(&c, (int)YKT_ARRAY_LEN(win), win);
    if (rc == 0)
        rc = admin(&c, 4, grant);
    if (rc == 0) {
        ykt_buf csv;
        ykt_buf_init(&csv);
        for (int i = 0; i < fleet->ncards; i++) {
            ykt_buf_append(&csv, fleet->cards[i].person_no, strlen(fleet->cards[i].person_no));
            ykt_buf_append(&csv, "\n", 1);
        }
        ykt_buf_append(&csv, "", 1); /* NUL */
        const char *imp[] = {"access", "member-import",       "--group", ACCESS_GROUP,
                             "--",     (const char *)csv.data};
        rc = admin(&c, 6, imp);
        ykt_buf_free(&csv);
    }
    ykt_client_close(&c);
    return rc;
}

/* [plugin.access] enabled, from the build tree's plugins. */
static int access_ini(const ykt_bench_ctx *ctx, char *out, size_t len)
{
    char plugins[PATH_MAX];
    if (plugins_dir(ctx->yktd, plugins, sizeof plugins) != 0)
        return -1;
    if ((size_t)snprintf(out, len, "[plugins]\ndir = %s\n[plugin.access]\nenabled = yes\n",
                         plugins) >= len) {
        fprintf(stderr, "ykt-bench door: the plugins path is too long\n");
        return -1;
    }
    return 0;
}

static void door_params(ykt_report *rep, int connections)
{
    ykt_report_int(rep, "doors", connections);
    ykt_report_str(rep, "decision", "access group with an all-week window; every swipe logged");
}

int ykt_bench_door(ykt_bench_ctx *ctx, int argc, char **argv)
{
    static const ykt_swipe_profile profile = {.name = "door",
                                              .verb = "ACCESS.OPEN",
                                              .terminal_type = "gate",
                                              .gateway_ini = access_ini,
                                              .gateway_note = "[plugin.access] enabled",
                                              .setup = configure_doors,
                                              .reply_ok = opened,
                                              .report_params = door_params};
    return ykt_swipeload_run(ctx, argc, argv, &profile);
}
