#include "fleet.h"
#include "adminq.h"
#include "common.h"
#include "roster.h"
#include "secret.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 64

typedef struct job {
    ykt_fleet *f;
    const ykt_fleet_spec *spec;
    int this_year;
} job;

static void format(ykt_buf *out, int argc, const char **argv)
{
    ykt_client_format(out, argc, argv, NULL);
}

static void build_merchant(void *arg, size_t i, ykt_buf *out)
{
    job *j = arg;
    (void)i;
    const char *argv[11] = {"merchant",
                            "add",
                            j->spec->merchant,
                            "--name",
                            j->spec->merchant_name ? j->spec->merchant_name : j->spec->merchant,
                            "--category",
                            j->spec->merchant_category ? j->spec->merchant_category : "other"};
    int argc = 7;
    if (j->spec->merchant_discount != NULL) {
        argv[argc++] = "--discount";
        argv[argc++] = j->spec->merchant_discount;
    }
    if (j->spec->merchant_fee_regular != NULL) {
        argv[argc++] = "--fee-regular";
        argv[argc++] = j->spec->merchant_fee_regular;
    }
    format(out, argc, argv);
}

static void build_terminal(void *arg, size_t i, ykt_buf *out)
{
    job *j = arg;
    const char *argv[9] = {"terminal",
                           "add",
                           j->f->terminals[i].id,
                           "--type",
                           j->spec->terminal_type,
                           "--secret",
                           j->f->terminals[i].secret};
    int argc = j->spec->generated_secrets ? 5 : 7;
    if (j->spec->merchant != NULL) {
        argv[argc++] = "--owner";
        argv[argc++] = j->spec->merchant;
    }
    format(out, argc, argv);
}

static void build_person(void *arg, size_t i, ykt_buf *out)
{
    job *j = arg;
    ykt_roster_row p;
    ykt_roster_row_make(j->spec->seed, i, j->this_year, &p);
    char years[8];
    snprintf(years, sizeof years, "%d", p.study_years);
    const char *argv[22] = {"person",     "add",          p.person_no,     "--kind",  "student",
                            "--name",     p.name,         "--gender",      p.gender,  "--id-number",
                            p.id_number,  "--department", p.department,    "--class", p.class_name,
                            "--enrolled", p.enrolled,     "--study-years", years};
    int argc = 19;
    if (p.phone[0]) {
        argv[argc++] = "--phone";
        argv[argc++] = p.phone;
    }
    format(out, argc, argv);
}

static void build_card(void *arg, size_t i, ykt_buf *out)
{
    job *j = arg;
    char uid[2 * YKT_UID_MAX + 1];
    ykt_simcard_hex(j->f->cards[i].sim.uid, j->f->cards[i].sim.uid_len, uid);
    const char *argv[] = {"card", "issue", j->f->cards[i].person_no, "--uid", uid};
    format(out, 5, argv);
}

static void build_topup(void *arg, size_t i, ykt_buf *out)
{
    job *j = arg;
    const char *argv[] = {"account", "topup", j->f->cards[i].person_no, "--amount", j->spec->topup};
    format(out, 5, argv);
}

static int reply_ok(void *arg, size_t i, const ykt_reply *r, char *err, size_t errlen)
{
    if (r->type != YKT_REPLY_ERROR)
        return 0;
    ykt_adminq_describe(r, err, errlen);
    return -1;
}

/* terminal add without --secret: the reply carries the secret the gateway generated. */
static int reply_secret(void *arg, size_t i, const ykt_reply *r, char *err, size_t errlen)
{
    job *j = arg;
    const ykt_reply *s = ykt_adminq_field(r, "secret");
    if (s == NULL || s->type != YKT_REPLY_BULK ||
        ykt_strlcpy(j->f->terminals[i].secret, s->str, sizeof j->f->terminals[i].secret) >=
            sizeof j->f->terminals[i].secret) {
        ykt_adminq_describe(r, err, errlen);
        return -1;
    }
    return 0;
}

static int reply_card(void *arg, size_t i, const ykt_reply *r, char *err, size_t errlen)
{
    job *j = arg;
    const ykt_reply *no = ykt_adminq_field(r, "card_no");
    if (no == NULL || no->type != YKT_REPLY_BULK) {
        ykt_adminq_describe(r, err, errlen);
        return -1;
    }
    ykt_strlcpy(j->f->cards[i].card_no, no->str, sizeof j->f->cards[i].card_no);
    return 0;
}

static int step(ykt_client *c, const char *what, size_t n, ykt_adminq_build_fn build,
                ykt_adminq_reply_fn check, job *j)
{
    char err[768];
    if (ykt_adminq_run(c, n, WINDOW, build, check, j, err, sizeof err) != 0) {
        fprintf(stderr, "ykt-bench: provisioning %s: %s\n", what, err);
        return -1;
    }
    return 0;
}

int ykt_fleet_provision(ykt_fleet *f, const ykt_benchgw *gw, const ykt_fleet_spec *spec)
{
    memset(f, 0, sizeof *f);
    f->terminals = calloc((size_t)spec->terminals, sizeof *f->terminals);
    f->cards = calloc((size_t)spec->cards, sizeof *f->cards);
    if ((spec->terminals > 0 && f->terminals == NULL) || (spec->cards > 0 && f->cards == NULL)) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        ykt_fleet_free(f);
        return -1;
    }
    f->nterminals = spec->terminals;
    f->ncards = spec->cards;

    char type[16];
    ykt_strlcpy(type, spec->terminal_type, sizeof type);
    for (char *p = type; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (int i = 0; i < f->nterminals; i++) {
        snprintf(f->terminals[i].id, sizeof f->terminals[i].id, "BENCH-%s-%04d", type, i + 1);
        snprintf(f->terminals[i].secret, sizeof f->terminals[i].secret, "bench-%s-%04d-secret",
                 spec->terminal_type, i + 1);
    }
    int this_year = ykt_roster_latest_cohort();
    for (int i = 0; i < f->ncards; i++) {
        ykt_roster_row p;
        ykt_roster_row_make(spec->seed, (size_t)i, this_year, &p);
        ykt_strlcpy(f->cards[i].person_no, p.person_no, sizeof f->cards[i].person_no);
        /* 04 (NXP, like a real DESFire) B3 (bench) and the index: known, unique UIDs. */
        uint8_t uid[7] = {
            0x04,       0xB3, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
            (uint8_t)i, 0x00};
        if (ykt_simcard_init(&f->cards[i].sim, gw->master, YKT_BENCH_CAMPUS, uid, sizeof uid,
                             YKT_MEDIUM_CARD) != YKT_OK) {
            fprintf(stderr, "ykt-bench: cannot derive a card key\n");
            ykt_fleet_free(f);
            return -1;
        }
    }

    ykt_client c;
    if (ykt_benchgw_admin(gw, &c) != 0) {
        ykt_fleet_free(f);
        return -1;
    }
    job j = {.f = f, .spec = spec, .this_year = this_year};
    size_t nt = (size_t)f->nterminals, nc = (size_t)f->ncards;
    int rc = 0;
    if (spec->merchant != NULL)
        rc = step(&c, "the merchant", 1, build_merchant, reply_ok, &j);
    if (rc == 0)
        rc = step(&c, "terminals", nt, build_terminal,
                  spec->generated_secrets ? reply_secret : reply_ok, &j);
    if (rc == 0)
        rc = step(&c, "people", nc, build_person, reply_ok, &j);
    if (rc == 0)
        rc = step(&c, "cards", nc, build_card, reply_card, &j);
    if (rc == 0 && spec->topup != NULL)
        rc = step(&c, "top-ups", nc, build_topup, reply_ok, &j);
    ykt_client_close(&c);
    if (rc != 0)
        ykt_fleet_free(f);
    return rc;
}

void ykt_fleet_free(ykt_fleet *f)
{
    if (f->cards != NULL)
        ykt_wipe(f->cards, (size_t)f->ncards * sizeof *f->cards);
    free(f->cards);
    free(f->terminals);
    memset(f, 0, sizeof *f);
}
