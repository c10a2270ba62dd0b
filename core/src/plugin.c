/*
 * The plugin host: loads the plugins the configuration enables, negotiates the API version,
 * hands each the host service table, and removes everything a plugin registered in one
 * place (ykt_plugins_unload). The services themselves are thin adapters from the stable
 * plugin ABI (include/ykt/plugin.h) to the core's modules.
 */
#include "plugin.h"
#include "admin.h"
#include "cardauth.h"
#include "cardcache.h"
#include "cardpw.h"
#include "privacy.h"
#include "common.h"
#include "date.h"
#include "events.h"
#include "ledger.h"
#include "log.h"
#include "request.h"
#include "resp.h"
#include "rules.h"
#include "store/migrations.h"
#include "store/store.h"
#include "timers.h"
#include "util.h"
#include "verbs.h"
#include "wallet.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ykt_plugin {
    char name[32];
    char prefix[32]; /* upper case; its verbs are PREFIX.SOMETHING */
    char path[YKT_PATH_MAX + 64];
    int api_version;
    const ykt_plugin_conf *conf;
    void *dl;
    void *userdata;
    int (*version)(int, const int *);
    int (*init)(ykt_plugin *, const ykt_host *, void **);
    void (*cleanup)(void *);
    bool initialized;
    uint32_t opts_read; /* bit i: conf->opts[i] was asked for (YKT_MAX_PLUGIN_OPTIONS <= 32) */
};

/* The ABI's constants are the core's own values: services pass them through unchanged. */
_Static_assert(YKT_TERM_POS == YKT_TT_POS && YKT_TERM_GATE == YKT_TT_GATE &&
                   YKT_TERM_DISPENSER == YKT_TT_DISPENSER && YKT_TERM_METER == YKT_TT_METER &&
                   YKT_TERM_BANK == YKT_TT_BANK && YKT_TERM_BOOKING == YKT_TT_BOOKING &&
                   YKT_TERM_KIOSK == YKT_TT_KIOSK && YKT_TERM_ATTENDANCE == YKT_TT_ATTENDANCE,
               "terminal types");
_Static_assert(YKT_PLUGIN_ROLE_OPERATOR == YKT_ROLE_OPERATOR &&
                   YKT_PLUGIN_ROLE_FINANCE == YKT_ROLE_FINANCE &&
                   YKT_PLUGIN_ROLE_DEPT_ADMIN == YKT_ROLE_DEPT_ADMIN &&
                   YKT_PLUGIN_ROLE_DEPT_HEAD == YKT_ROLE_DEPT_HEAD &&
                   YKT_PLUGIN_ROLE_AUDITOR == YKT_ROLE_AUDITOR &&
                   YKT_PLUGIN_ROLE_SUPERUSER == YKT_ROLE_SUPERUSER &&
                   YKT_PLUGIN_ROLE_PORTAL == YKT_ROLE_PORTAL,
               "roles");
_Static_assert(YKT_PLUGIN_EINVAL == YKT_EINVAL && YKT_PLUGIN_ENOTFOUND == YKT_ENOTFOUND &&
                   YKT_PLUGIN_EEXIST == YKT_EEXIST && YKT_PLUGIN_ESTORAGE == YKT_ESTORAGE &&
                   YKT_PLUGIN_EPERM == YKT_EPERM,
               "result codes");
_Static_assert(YKT_PLUGIN_LOG_DEBUG == YKT_LOG_DEBUG && YKT_PLUGIN_LOG_ERROR == YKT_LOG_ERROR,
               "log levels");

static ykt_plugin loaded[YKT_MAX_PLUGINS];
static int nloaded;
static ykt_gw *host_gw; /* one gateway per process */

static const int supported_versions[] = {YKT_PLUGIN_API_VERSION};

/* ---- logging, options ---- */

static void host_log(ykt_plugin *p, int level, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (level < YKT_LOG_DEBUG || level > YKT_LOG_ERROR)
        level = YKT_LOG_INFO;
    ykt_log(level, "plugin %s: %s", p->name, msg);
}

_Static_assert(YKT_MAX_PLUGIN_OPTIONS <= 32, "opts_read has a bit per option");

static const char *host_option(ykt_plugin *p, const char *key)
{
    for (int i = 0; i < p->conf->nopts; i++)
        if (strcmp(p->conf->opts[i].key, key) == 0) {
            p->opts_read |= (uint32_t)1 << i;
            return p->conf->opts[i].value;
        }
    return NULL;
}

/* A key of the section that neither the core (prefix; subsystem, a temporary card's
 * subsystem name, admin_card.c) nor the plugin's init asked for: a misspelt option
 * (gate_chek = no) would leave the setting it meant at its default without a word, so the
 * start is refused instead. Plugins read every option in init. */
static const char *unread_option(const ykt_plugin *p)
{
    for (int i = 0; i < p->conf->nopts; i++) {
        const char *key = p->conf->opts[i].key;
        if (!(p->opts_read & ((uint32_t)1 << i)) && strcmp(key, "prefix") != 0 &&
            strcmp(key, "subsystem") != 0)
            return key;
    }
    return NULL;
}

static const char *host_name(ykt_plugin *p)
{
    return p->name;
}

/* ---- registration ---- */

static int host_verb_register(ykt_plugin *p, const char *verb, unsigned types, unsigned flags,
                              ykt_handler_fn fn, void *userdata, const char *usage)
{
    size_t n = strlen(p->prefix);
    if (strncmp(verb, p->prefix, n) != 0 || verb[n] != '.') {
        host_log(p, YKT_PLUGIN_LOG_ERROR, "verb %s must start with %s.", verb, p->prefix);
        return YKT_PLUGIN_EINVAL;
    }
    unsigned core_flags = 0;
    if (flags & YKT_VERB_CHANGES)
        core_flags |= YKT_VERB_WRITE;
    if (flags & YKT_VERB_SEQUENCED)
        core_flags |= YKT_VERB_SEQ;
    int rc = ykt_verbs_register_plugin(host_gw->verbs, verb, (void (*)(ykt_req *, void *))fn,
                                       userdata, types & YKT_TT_ALL, core_flags, p, usage);
    if (rc != YKT_OK)
        host_log(p, YKT_PLUGIN_LOG_ERROR, "cannot register verb %s: %s", verb, ykt_strerror(rc));
    return rc;
}

static int host_admin_register(ykt_plugin *p, const char *group, const char *name, unsigned roles,
                               int changes, const char *options, int min_args, int max_args,
                               ykt_handler_fn fn, void *userdata, const char *usage,
                               const char *summary)
{
    if (group == NULL || fn == NULL || !ykt_is_ident(group, 31) ||
        (name != NULL && !ykt_is_ident(name, 31)) ||
        (roles & ~(unsigned)(YKT_ROLE_ANY | YKT_ROLE_PORTAL)) != 0)
        return YKT_PLUGIN_EINVAL;
    ykt_admin_cmd cmd = {
        .group = group,
        .name = name,
        .roles = roles ? roles : YKT_ROLE_SUPERUSER,
        .write = changes != 0,
        .min_pos = min_args,
        .max_pos = max_args,
        .opts = options ? options : "",
        .usage = usage ? usage : group,
        .summary = summary ? summary : "",
        .pfn = (void (*)(ykt_req *, void *))fn,
        .userdata = userdata,
        .owner = p,
    };
    int rc = ykt_admin_register_one(host_gw->admin, &cmd);
    if (rc != YKT_OK)
        host_log(p, YKT_PLUGIN_LOG_ERROR, "cannot register admin command %s %s: %s", group,
                 name ? name : "", ykt_strerror(rc));
    return rc;
}

/* ---- the request ---- */

static ykt_req *req_of(ykt_request *r)
{
    return (ykt_req *)r;
}

static int host_argc(ykt_request *r)
{
    ykt_req *req = req_of(r);
    return req->args ? req->args->npos : req->argc;
}

static const char *host_arg(ykt_request *r, int i, size_t *len)
{
    ykt_req *req = req_of(r);
    if (req->args != NULL) {
        if (i < 0 || i >= req->args->npos)
            return NULL;
        if (len)
            *len = strlen(req->args->pos[i]);
        return req->args->pos[i];
    }
    if (i < 0 || i >= req->argc)
        return NULL;
    if (len)
        *len = req->argl[i];
    return req->argv[i];
}

static const char *host_opt(ykt_request *r, const char *name)
{
    ykt_req *req = req_of(r);
    return req->args ? ykt_args_get(req->args, name) : NULL;
}

/*
 * Whether a plugin verb changed anything but its card's ATC before it waits for a password
 * check (card_check_password). Such a request is noted on the card as a PAY with a PIN is
 * (ykt_verbs_mark_waiting): interrupted while it waits (its connection closed, yktd
 * stopped), it never completes, and its retry, the same bytes under the same (terminal,
 * seq), must pass the card check once more and run, not be refused REPLAY by the ATC its
 * first attempt took. A request that wrote more before the wait is not noted, and a retry
 * that does loses its note: run again, it would write that again. The host cannot tell what
 * a plugin's writes mean, so it counts them: the rows the database connection changed
 * (sqlite3_total_changes, triggers included) just after the card check, compared when the
 * wait starts. A second wait (done calls card_check_password) follows the first check's
 * writes and whatever done wrote: not counted, so it is never noted. Handlers run on the
 * loop one at a time, so one request is watched at a time; forgotten when the loop
 * iteration ends, as a request's address is reused by the next one.
 */
static struct {
    const ykt_req *req;
    int changes;
} watched;

static void watch_changes(const ykt_req *req)
{
    watched.req = req;
    watched.changes = sqlite3_total_changes(ykt_db_handle(req->gw->db));
}

/* Notes the request about to wait on its card when it changed nothing but the ATC since it
 * was watched, or takes back the note of a retry that did. False after replying. */
static bool note_wait(ykt_req *req)
{
    bool watched_now = watched.req == req;
    bool unchanged =
        watched_now && watched.changes == sqlite3_total_changes(ykt_db_handle(req->gw->db));
    watched.req = NULL;
    if (unchanged) {
        ykt_verbs_mark_waiting(req); /* a retry's note is there already */
        return true;
    }
    if (!req->atc_marked)
        return true;
    int rc = ykt_cardcache_unmark_atc(req->gw->cards, req->gw->db, req->atc_uid, req->atc_card,
                                      req->term->id, req->seq);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    req->atc_marked = false;
    ykt_info("card %s: terminal %s seq %lld changed more than the card's ATC before it waits; "
             "interrupted, its retry will be refused REPLAY",
             req->atc_card, req->term->id, (long long)req->seq);
    return true;
}

/* Memory lent to plugins (card infos, rule string results) lives until the loop iteration
 * ends (ykt_plugins_iteration_end), so it outlives every callback that received it. */
static void **lent;
static size_t nlent, caplent;

static void *lend(size_t size)
{
    if (nlent == caplent) {
        size_t cap = caplent ? caplent * 2 : 16;
        void **grown = realloc(lent, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        lent = grown;
        caplent = cap;
    }
    void *p = calloc(1, size);
    if (p != NULL)
        lent[nlent++] = p;
    return p;
}

void ykt_plugins_iteration_end(void)
{
    watched.req = NULL;
    for (size_t i = 0; i < nlent; i++)
        free(lent[i]);
    nlent = 0;
}

typedef struct card_slot {
    ykt_card card;
    ykt_person person;
} card_slot;

static ykt_terminal_info terminal_info;

static const ykt_terminal_info *host_terminal(ykt_request *r)
{
    ykt_terminal *t = req_of(r)->term;
    if (t == NULL)
        return NULL;
    terminal_info = (ykt_terminal_info){.size = sizeof terminal_info,
                                        .id = t->id,
                                        .type = t->type,
                                        .location = t->location,
                                        .owner = t->owner};
    return &terminal_info;
}

static int host_terminal_get(const char *id, ykt_terminal_info *out)
{
    ykt_terminal *t = id != NULL ? ykt_terminal_find(host_gw->terminals, id) : NULL;
    if (t == NULL)
        return YKT_PLUGIN_ENOTFOUND;
    *out = (ykt_terminal_info){.size = sizeof *out,
                               .id = t->id,
                               .type = t->type,
                               .location = t->location,
                               .owner = t->owner};
    return YKT_PLUGIN_OK;
}

static const char *host_operator_name(ykt_request *r)
{
    ykt_req *req = req_of(r);
    return req->session ? req->session->operator_name : NULL;
}

static void host_reply_ok(ykt_request *r)
{
    ykt_reply_ok(req_of(r));
}

static void host_reply_error(ykt_request *r, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ykt_reply_error(req_of(r), code, "%s", msg);
}

static void host_reply_int(ykt_request *r, int64_t v)
{
    ykt_reply_int(req_of(r), v);
}

static void host_reply_str(ykt_request *r, const char *s)
{
    ykt_reply_bulk(req_of(r), s);
}

static void host_reply_array(ykt_request *r, int64_t n)
{
    ykt_reply_array(req_of(r), n);
}

/* One admin table per request at a time, built here and sent as the reply. */
static ykt_table *pending_table;

static void host_table_begin(ykt_request *r, const char *kind, int ncols, const char *const *cols)
{
    (void)r;
    if (pending_table != NULL)
        ykt_table_free(pending_table);
    pending_table = ykt_table_new(kind, ncols, cols);
}

static void host_table_row(ykt_request *r)
{
    (void)r;
    if (pending_table)
        ykt_table_row(pending_table);
}

static void host_table_str(ykt_request *r, const char *s)
{
    (void)r;
    if (pending_table)
        ykt_table_str(pending_table, s);
}

static void host_table_int(ykt_request *r, int64_t v)
{
    (void)r;
    if (pending_table)
        ykt_table_int(pending_table, v);
}

static void host_table_send(ykt_request *r)
{
    if (pending_table == NULL) {
        ykt_reply_internal(req_of(r), YKT_ESTATE);
        return;
    }
    ykt_table_send(req_of(r), pending_table);
    pending_table = NULL;
}

/* ---- cards ---- */

/* A core result as the plugin API spells it. */
static int plugin_rc(int rc)
{
    switch (rc) {
    case YKT_OK:
        return YKT_PLUGIN_OK;
    case YKT_ENOTFOUND:
        return YKT_PLUGIN_ENOTFOUND;
    case YKT_EINVAL:
        return YKT_PLUGIN_EINVAL;
    default:
        return YKT_PLUGIN_ESTORAGE;
    }
}

static void fill_card_info(ykt_card_info *out, const ykt_card *c, const ykt_person *p)
{
    *out = (ykt_card_info){.size = sizeof *out,
                           .card_no = c->card_no,
                           .uid = c->uid,
                           .person_id = c->person_id,
                           .person_no = p->person_no,
                           .name = p->name,
                           .kind = p->kind,
                           .department = p->department,
                           .card_type = c->type,
                           .status = c->status,
                           .valid_until = c->valid_until,
                           .subsystems = c->subsystems,
                           .atc = c->atc};
}

static int host_card_present(ykt_request *r, ykt_card_info *out, int64_t *amount)
{
    ykt_req *req = req_of(r);
    ykt_presented p;
    card_slot *slot = lend(sizeof *slot);
    if (slot == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return YKT_PLUGIN_EPERM;
    }
    if (!ykt_presented_parse(req, &p) ||
        !ykt_card_authenticate(req, &p, YKT_CARDAUTH_ONLINE, &slot->card, &slot->person))
        return YKT_PLUGIN_EPERM;
    fill_card_info(out, &slot->card, &slot->person);
    /* The money services act for this card only. */
    ykt_strlcpy(req->plugin_card, slot->card.card_no, sizeof req->plugin_card);
    if (amount != NULL)
        *amount = p.amount;
    watch_changes(req);
    return YKT_PLUGIN_OK;
}

static int host_card_by_no(const char *card_no, ykt_card_info *out)
{
    card_slot *slot = lend(sizeof *slot);
    if (slot == NULL)
        return YKT_PLUGIN_EINVAL;
    int rc = ykt_store_card_by_no(host_gw->db, card_no, &slot->card);
    if (rc == YKT_OK)
        rc = ykt_store_person_by_id(host_gw->db, slot->card.person_id, &slot->person);
    if (rc == YKT_OK)
        fill_card_info(out, &slot->card, &slot->person);
    return plugin_rc(rc);
}

static int host_card_by_uid(const char *uid, ykt_card_info *out)
{
    card_slot *slot = lend(sizeof *slot);
    char norm[YKT_UID_HEX_MAX];
    if (slot == NULL || uid == NULL || !ykt_uid_normalize(uid, norm)) /* any case, as presented */
        return YKT_PLUGIN_EINVAL;
    int rc = ykt_store_card_by_uid(host_gw->db, norm, &slot->card);
    if (rc == YKT_OK)
        rc = ykt_store_person_by_id(host_gw->db, slot->card.person_id, &slot->person);
    if (rc == YKT_OK)
        fill_card_info(out, &slot->card, &slot->person);
    return plugin_rc(rc);
}

static int host_merchant_status(const char *id, const char **status)
{
    static ykt_merchant m; /* the status string outlives the call, until the next one */
    if (id == NULL)
        return YKT_PLUGIN_EINVAL;
    int rc = ykt_store_merchant_get(host_gw->db, id, &m);
    if (rc == YKT_ENOTFOUND)
        return YKT_PLUGIN_ENOTFOUND;
    if (rc != YKT_OK)
        return YKT_PLUGIN_ESTORAGE;
    if (status != NULL)
        *status = m.status;
    return YKT_PLUGIN_OK;
}

static int64_t host_pin_threshold(void)
{
    return host_gw->cfg.pin_threshold;
}

static int host_person_card(const char *person_no, ykt_card_info *out)
{
    card_slot *slot = lend(sizeof *slot);
    if (slot == NULL)
        return YKT_PLUGIN_EINVAL;
    int rc = ykt_store_person_by_no(host_gw->db, person_no, &slot->person);
    if (rc == YKT_OK)
        rc = ykt_store_card_live(host_gw->db, slot->person.id, "card", &slot->card);
    if (rc == YKT_OK)
        fill_card_info(out, &slot->card, &slot->person);
    return plugin_rc(rc);
}

/* ---- money ---- */

/*
 * The rules every money service keeps, whatever the plugin does: a sequenced verb, money
 * moved at most once per request, a positive amount, and — for debits and holds — the card
 * presented in this request and no other. A breach is a plugin bug: logged, and the request
 * fails with INTERNAL (nothing moves).
 */
static bool money_allowed(ykt_req *req, const ykt_card_info *info, bool presented_card,
                          int64_t amount)
{
    const char *why = NULL;
    if (req->seq <= 0 || req->term == NULL)
        why = "the verb is not YKT_VERB_SEQUENCED";
    else if (req->plugin_moved)
        why = "money already moved in this request";
    else if (presented_card && (info == NULL || strcmp(info->card_no, req->plugin_card) != 0))
        why = "the card is not the one presented in this request";
    if (why != NULL) {
        ykt_error("plugin verb %s: refused a wallet service: %s", req->argv[0], why);
        ykt_reply_internal(req, YKT_ESTATE);
        return false;
    }
    if (amount <= 0 || amount > YKT_AMOUNT_MAX) {
        ykt_reply_error(req, "BAD_REQUEST", "the amount must be 1 to %lld fen",
                        (long long)YKT_AMOUNT_MAX);
        return false;
    }
    return true;
}

/* Loads what a wallet service needs; replies and returns false when it cannot. */
static bool money_context(ykt_req *req, const ykt_card_info *info, const char *merchant_id,
                          ykt_card *card, ykt_person *person, ykt_merchant *m)
{
    int rc = YKT_OK;
    if (info != NULL) {
        rc = ykt_store_card_by_no(req->gw->db, info->card_no, card);
        if (rc == YKT_OK)
            rc = ykt_store_person_by_id(req->gw->db, card->person_id, person);
    }
    if (rc == YKT_OK && merchant_id != NULL) {
        rc = ykt_store_merchant_get(req->gw->db, merchant_id, m);
        if (rc == YKT_ENOTFOUND) {
            ykt_reply_error(req, "NO_MERCHANT", "no merchant %.32s", merchant_id);
            return false;
        }
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    if (info != NULL && merchant_id != NULL) {
        ykt_refusal no;
        if (!ykt_wallet_card_may_pay(card, m, &no)) {
            ykt_reply_error(req, no.code, "%s", no.why);
            return false;
        }
    }
    return true;
}

static int money_result(ykt_req *req, int rc, const ykt_refusal *no)
{
    if (rc == YKT_OK) {
        req->plugin_moved = true;
        return YKT_PLUGIN_OK;
    }
    if (rc == YKT_EPERM)
        ykt_reply_error(req, no->code, "%s", no->why);
    else
        ykt_reply_internal(req, rc);
    return YKT_PLUGIN_EPERM;
}

static int host_wallet_debit(ykt_request *r, const ykt_card_info *info, const char *merchant,
                             int64_t amount, ykt_money *out)
{
    ykt_req *req = req_of(r);
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    if (!money_allowed(req, info, true, amount) ||
        !money_context(req, info, merchant, &card, &person, &m))
        return YKT_PLUGIN_EPERM;
    ykt_pay p = {.card = &card,
                 .person = &person,
                 .merchant = &m,
                 .terminal = req->term->id,
                 .seq = req->seq,
                 .card_time = ykt_now_ms(),
                 .amount = amount};
    ykt_pay_result res;
    ykt_refusal no;
    int rc = ykt_wallet_pay(req->gw, &p, &res, &no);
    if (rc == YKT_OK && out != NULL)
        *out = (ykt_money){.size = sizeof *out,
                           .payment_id = res.payment_id,
                           .charged = res.charged,
                           .balance = res.balance};
    return money_result(req, rc, &no);
}

static int host_wallet_hold(ykt_request *r, const ykt_card_info *info, const char *merchant,
                            int64_t amount, int64_t timeout_ms, ykt_money *out)
{
    ykt_req *req = req_of(r);
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    if (!money_allowed(req, info, true, amount) ||
        !money_context(req, info, merchant, &card, &person, &m))
        return YKT_PLUGIN_EPERM;
    ykt_pay p = {.card = &card,
                 .person = &person,
                 .merchant = &m,
                 .terminal = req->term->id,
                 .seq = req->seq,
                 .card_time = ykt_now_ms(),
                 .amount = amount};
    int64_t hold_id, balance, expires;
    ykt_refusal no;
    int rc =
        ykt_wallet_hold(req->gw, &p, timeout_ms > 0 ? timeout_ms : req->gw->cfg.hold_timeout_ms,
                        &hold_id, &balance, &expires, &no);
    if (rc == YKT_OK && out != NULL)
        *out = (ykt_money){
            .size = sizeof *out, .hold_id = hold_id, .charged = amount, .balance = balance};
    return money_result(req, rc, &no);
}

static int host_wallet_capture(ykt_request *r, int64_t hold_id, int64_t amount, ykt_money *out)
{
    ykt_req *req = req_of(r);
    if (!money_allowed(req, NULL, false, amount > 0 ? amount : 1))
        return YKT_PLUGIN_EPERM;
    ykt_pay_result res;
    ykt_refusal no;
    int rc = ykt_wallet_capture(req->gw, hold_id, req->term->id, req->seq, amount, &res, &no);
    if (rc == YKT_OK && out != NULL)
        *out = (ykt_money){.size = sizeof *out,
                           .payment_id = res.payment_id,
                           .hold_id = hold_id,
                           .charged = res.charged,
                           .balance = res.balance};
    return money_result(req, rc, &no);
}

static int host_wallet_void(ykt_request *r, int64_t hold_id, ykt_money *out)
{
    ykt_req *req = req_of(r);
    if (!money_allowed(req, NULL, false, 1))
        return YKT_PLUGIN_EPERM;
    int64_t balance = 0;
    ykt_refusal no;
    int rc = ykt_wallet_void(req->gw, hold_id, req->term->id, "voided", &balance, &no);
    if (rc == YKT_OK && out != NULL)
        *out = (ykt_money){.size = sizeof *out, .hold_id = hold_id, .balance = balance};
    return money_result(req, rc, &no);
}

static int host_wallet_credit(ykt_request *r, const ykt_card_info *info, const char *merchant,
                              int64_t amount, const char *memo, ykt_money *out)
{
    ykt_req *req = req_of(r);
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    if (info == NULL || !money_allowed(req, info, false, amount) ||
        !money_context(req, info, merchant, &card, &person, &m))
        return info == NULL ? (ykt_reply_internal(req, YKT_EINVAL), YKT_PLUGIN_EPERM)
                            : YKT_PLUGIN_EPERM;
    int64_t from = 0;
    int rc = merchant != NULL ? (from = m.account, YKT_OK)
                              : ykt_ledger_account(req->gw->db, YKT_ACC_BANK_CLEARING, "", &from);
    int64_t balance = 0;
    ykt_refusal no = {0};
    if (rc == YKT_OK)
        rc = ykt_wallet_topup(req->gw, card.person_id, from, amount,
                              merchant != NULL ? "credit_merchant" : "topup_bank", card.card_no,
                              req->term->id, NULL, memo, &balance, &no);
    if (rc == YKT_OK && out != NULL)
        *out = (ykt_money){.size = sizeof *out, .charged = amount, .balance = balance};
    return money_result(req, rc, &no);
}

static int host_wallet_reverse(ykt_request *r, const ykt_card_info *info, const char *merchant,
                               int64_t amount, const char *memo, ykt_money *out)
{
    ykt_req *req = req_of(r);
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    if (info == NULL) {
        ykt_reply_internal(req, YKT_EINVAL);
        return YKT_PLUGIN_EPERM;
    }
    if (!money_allowed(req, info, false, amount))
        return YKT_PLUGIN_EPERM;
    /* No "may pay here" check: money goes back where it came from whatever the card. */
    if (!money_context(req, info, NULL, &card, &person, NULL))
        return YKT_PLUGIN_EPERM;
    int64_t to = 0, moved = 0, balance = 0;
    int rc = YKT_OK;
    if (merchant != NULL) {
        rc = ykt_store_merchant_get(req->gw->db, merchant, &m);
        if (rc == YKT_ENOTFOUND) {
            ykt_reply_error(req, "NO_MERCHANT", "no merchant %.32s", merchant);
            return YKT_PLUGIN_EPERM;
        }
        to = m.account;
    } else {
        rc = ykt_ledger_account(req->gw->db, YKT_ACC_BANK_CLEARING, "", &to);
    }
    if (rc == YKT_OK)
        rc = ykt_wallet_take_back(req->gw, card.person_id, to, amount,
                                  merchant != NULL ? "reversal_merchant" : "reversal_bank",
                                  card.card_no, req->term ? req->term->id : NULL, memo, &moved,
                                  &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return YKT_PLUGIN_EPERM;
    }
    if (out != NULL)
        *out = (ykt_money){.size = sizeof *out, .charged = moved, .balance = balance};
    req->plugin_moved = true;
    return YKT_PLUGIN_OK;
}

static int host_wallet_balance(int64_t person_id, int64_t *balance)
{
    return ykt_wallet_balance(host_gw, person_id, balance);
}

/* ---- the plugin's own tables ---- */

/* SQLite asks this for every table a plugin statement touches while it is being prepared:
 * only the plugin's own tables (and SQLite's schema, for DDL) are allowed. */
static int authorize(void *arg, int action, const char *a1, const char *a2, const char *dbname,
                     const char *trigger)
{
    (void)dbname;
    (void)trigger;
    ykt_plugin *p = arg;
    const char *table = NULL;
    switch (action) {
    case SQLITE_READ:
    case SQLITE_UPDATE:
    case SQLITE_INSERT:
    case SQLITE_DELETE:
    case SQLITE_CREATE_TABLE:
    case SQLITE_DROP_TABLE:
    case SQLITE_REINDEX: /* CREATE INDEX asks for it, naming the index: NAME_ too */
        table = a1;
        break;
    case SQLITE_CREATE_INDEX:
    case SQLITE_DROP_INDEX:
    case SQLITE_ALTER_TABLE:
        table = a2;
        break;
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    default:
        /* PRAGMA, ATTACH, transactions, savepoints: the host's business. Triggers and views
         * too: their bodies run later, where this check does not reach. */
        return SQLITE_DENY;
    }
    if (table == NULL)
        return SQLITE_OK;
    /* SQLite's own tables: read anything; write only the schema, as DDL does — never
     * sqlite_sequence, where the core's AUTOINCREMENT counters live. */
    if (strncmp(table, "sqlite_", 7) == 0) {
        if (action == SQLITE_READ || strcmp(table, "sqlite_master") == 0 ||
            strcmp(table, "sqlite_schema") == 0 || strcmp(table, "sqlite_temp_master") == 0)
            return SQLITE_OK;
        ykt_warn("plugin %s: statement writes %s; refused", p->name, table);
        return SQLITE_DENY;
    }
    size_t n = strlen(p->name);
    if (strncmp(table, p->name, n) == 0 && table[n] == '_')
        return SQLITE_OK;
    ykt_warn("plugin %s: statement touches table %s, not its own; refused", p->name, table);
    return SQLITE_DENY;
}

static sqlite3_stmt *host_db_stmt(ykt_plugin *p, const char *sql)
{
    /* Setting an authorizer expires every prepared statement on the connection, the
     * core's too: only a statement not prepared yet goes through it (once). */
    sqlite3_stmt *cached = ykt_db_stmt_cached(host_gw->db, sql);
    if (cached != NULL)
        return cached;
    sqlite3 *h = ykt_db_handle(host_gw->db);
    sqlite3_set_authorizer(h, authorize, p);
    sqlite3_stmt *st = ykt_db_stmt(host_gw->db, sql);
    sqlite3_set_authorizer(h, NULL, NULL);
    return st;
}

static int host_db_migrate(ykt_plugin *p, const char *const *scripts, int count)
{
    int64_t have = 0;
    int rc = ykt_store_plugin_schema_get(host_gw->db, p->name, &have);
    if (rc != YKT_OK && rc != YKT_ENOTFOUND)
        return YKT_PLUGIN_ESTORAGE;
    /* Tables written by a newer build of the plugin: this one would write rows that break
     * what the newer version keeps (a chain of links, a column it fills), so it does not
     * run on them, as yktd refuses a database of a newer schema. */
    if (have > count) {
        ykt_error("plugin %s: its tables are at schema version %lld, newer than this build "
                  "of the plugin supports (%d); load the plugin that wrote them or restore a "
                  "backup",
                  p->name, (long long)have, count);
        return YKT_PLUGIN_ESTORAGE;
    }
    sqlite3 *h = ykt_db_handle(host_gw->db);
    for (int v = (int)have + 1; v <= count; v++) {
        char *msg = NULL;
        if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return YKT_PLUGIN_ESTORAGE;
        sqlite3_set_authorizer(h, authorize, p);
        int src = sqlite3_exec(h, scripts[v - 1], NULL, NULL, &msg);
        sqlite3_set_authorizer(h, NULL, NULL);
        if (src != SQLITE_OK || ykt_store_plugin_schema_set(host_gw->db, p->name, v) != YKT_OK ||
            sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            ykt_error("plugin %s: migration to its schema version %d failed: %s", p->name, v,
                      msg ? msg : sqlite3_errmsg(h));
            sqlite3_free(msg);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return YKT_PLUGIN_ESTORAGE;
        }
        ykt_info("plugin %s: migrated its tables to version %d", p->name, v);
    }
    return YKT_PLUGIN_OK;
}

static int host_audit(ykt_request *r, const char *action, const char *target, const char *detail)
{
    ykt_req *req = req_of(r);
    if (req->session == NULL)
        return YKT_PLUGIN_EINVAL;
    return ykt_audit(req, req->args, action, target, "%s", detail ? detail : "") == YKT_OK
               ? YKT_PLUGIN_OK
               : YKT_PLUGIN_ESTORAGE;
}

/* ---- events, timers, rules, time ---- */

static int host_subscribe(ykt_plugin *p, int event, ykt_event_fn fn, void *userdata)
{
    return ykt_events_subscribe(event, fn, userdata, p);
}

static int host_decide(int event, void *data)
{
    return ykt_events_decide(event, data);
}

typedef struct plugin_timer {
    ykt_plugin_timer_fn fn;
    void *userdata;
} plugin_timer;

/* A plugin's timer runs in a request savepoint of its own, so what it writes joins the
 * batch; while a commit is in flight the tick is skipped. */
/* Set by undo_writes while a timer callback runs. */
static bool in_timer, timer_undo;

static void plugin_tick(ykt_gw *gw, void *arg)
{
    plugin_timer *t = arg;
    if (ykt_db_cmd_begin(gw->db) != YKT_OK)
        return;
    in_timer = true;
    timer_undo = false;
    t->fn(t->userdata);
    in_timer = false;
    ykt_db_cmd_end(gw->db, !timer_undo);
}

static void host_undo_writes(ykt_plugin *p)
{
    (void)p;
    if (in_timer)
        timer_undo = true;
}

static int host_timer_every(ykt_plugin *p, uint64_t interval_ms, ykt_plugin_timer_fn fn,
                            void *userdata)
{
    if (fn == NULL || interval_ms < 10)
        return YKT_PLUGIN_EINVAL;
    plugin_timer *t = malloc(sizeof *t);
    if (t == NULL)
        return YKT_ENOMEM;
    t->fn = fn;
    t->userdata = userdata;
    /* The timer record is freed with the plugin (timers list owns only the handle). */
    return ykt_timer_every_owned(host_gw, interval_ms, interval_ms, plugin_tick, t, p, free);
}

static int host_rule_call(ykt_request *r, const char *script, const char *fn,
                          const ykt_rule_value *args, int nargs, ykt_rule_value *results,
                          int nresults)
{
    char err[256];
    int rc = host_gw->rules == NULL
                 ? (snprintf(err, sizeof err, "no rule scripts are loaded"), YKT_ENOTFOUND)
                 : ykt_rules_call(host_gw->rules, script, fn, args, nargs, results, nresults, err,
                                  sizeof err);
    /* The rule host keeps string results only until its next call (the fee rule inside a
     * wallet service is one): lend copies that last the iteration. */
    for (int k = 0; rc == YKT_OK && k < nresults; k++) {
        if (results[k].type != 's' || results[k].s == NULL)
            continue;
        size_t n = strlen(results[k].s);
        char *copy = lend(n + 1);
        if (copy == NULL) {
            rc = YKT_ENOMEM;
            snprintf(err, sizeof err, "out of memory");
            break;
        }
        memcpy(copy, results[k].s, n + 1);
        results[k].s = copy;
    }
    if (rc == YKT_OK)
        return YKT_PLUGIN_OK;
    if (r != NULL)
        ykt_reply_error(req_of(r), "RULE_ERROR", "rule %s.%s: %s", script, fn, err);
    else
        ykt_warn("rule %s.%s: %s", script, fn, err);
    return YKT_PLUGIN_EPERM;
}

static int host_hold_settle(ykt_plugin *p, int64_t hold_id, int64_t amount, ykt_money *out,
                            const char **code)
{
    ykt_gw *gw = host_gw;
    ykt_refusal no = {0};
    int rc;
    if (out != NULL)
        *out = (ykt_money){.size = sizeof *out, .hold_id = hold_id};
    /* No request's savepoint undoes a refusal here: this one does, so a settlement happens
     * whole or not at all. */
    sqlite3 *h = ykt_db_handle(gw->db);
    size_t hooks = ykt_db_hooks_mark(gw->db);
    if (!ykt_db_in_cmd(gw->db) ||
        sqlite3_exec(h, "SAVEPOINT settle", NULL, NULL, NULL) != SQLITE_OK) {
        if (code != NULL)
            *code = "STORAGE_ERROR";
        return YKT_PLUGIN_EPERM;
    }
    if (amount > 0) {
        ykt_pay_result res;
        rc = ykt_wallet_capture(gw, hold_id, NULL, 0, amount, &res, &no);
        if (rc == YKT_OK && out != NULL) {
            out->payment_id = res.payment_id;
            out->charged = res.charged;
            out->balance = res.balance;
        }
    } else {
        int64_t balance = 0;
        rc = ykt_wallet_void(gw, hold_id, NULL, "voided", &balance, &no);
        if (rc == YKT_OK && out != NULL)
            out->balance = balance;
    }
    if (rc == YKT_OK) {
        sqlite3_exec(h, "RELEASE settle", NULL, NULL, NULL);
        return YKT_PLUGIN_OK;
    }
    sqlite3_exec(h, "ROLLBACK TO settle", NULL, NULL, NULL);
    sqlite3_exec(h, "RELEASE settle", NULL, NULL, NULL);
    ykt_db_hooks_rollback(gw->db, hooks);
    if (code != NULL)
        *code = rc == YKT_EPERM ? no.code : "STORAGE_ERROR";
    ykt_info("plugin %s: hold %lld not settled: %s", p->name, (long long)hold_id,
             rc == YKT_EPERM ? no.why : ykt_strerror(rc));
    return YKT_PLUGIN_EPERM;
}

/* A password check for a plugin verb: the core's password job, then the plugin's done. */
typedef struct plugin_pw_job {
    ykt_cardpw_job pw; /* first: the job is also a password job */
    ykt_handler_fn done;
    void *userdata;
} plugin_pw_job;

static void plugin_pw_work(void *data)
{
    ykt_cardpw_work(data);
}

static void plugin_pw_after(ykt_req *req, void *data)
{
    plugin_pw_job *job = data;
    if (!req->abandoned && ykt_cardpw_conclude(req, &job->pw) && ykt_card_still_usable(req))
        job->done((ykt_request *)req, job->userdata);
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

static int host_card_check_password(ykt_request *r, const ykt_card_info *card, const char *which,
                                    const char *password, ykt_handler_fn done, void *userdata)
{
    ykt_req *req = req_of(r);
    if (card == NULL || which == NULL || done == NULL ||
        (strcmp(which, "pay") != 0 && strcmp(which, "query") != 0)) {
        ykt_reply_internal(req, YKT_EINVAL);
        return YKT_PLUGIN_EPERM;
    }
    if (password == NULL || !ykt_cardpw_valid(password)) {
        ykt_reply_error(req, "BAD_REQUEST", "the %s password is six digits", which);
        return YKT_PLUGIN_EPERM;
    }
    plugin_pw_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return YKT_PLUGIN_EPERM;
    }
    if (!ykt_cardpw_prepare(req, &job->pw, card->person_id, which) || !note_wait(req)) {
        free(job);
        return YKT_PLUGIN_EPERM;
    }
    ykt_strlcpy(job->pw.password, password, sizeof job->pw.password);
    job->done = done;
    job->userdata = userdata;
    ykt_req_defer(req, plugin_pw_work, plugin_pw_after, job);
    return YKT_PLUGIN_OK;
}

static int host_operator_info(ykt_request *r, unsigned *role, const char **department)
{
    ykt_req *req = req_of(r);
    if (req->session == NULL)
        return YKT_PLUGIN_EINVAL;
    if (role != NULL)
        *role = req->session->role;
    if (department != NULL)
        *department = req->session->department;
    return YKT_PLUGIN_OK;
}

static int host_notify(int64_t person_id, const char *kind, const char *message, int64_t amount)
{
    if (kind == NULL || message == NULL || !ykt_is_ident(kind, 15))
        return YKT_PLUGIN_EINVAL;
    return ykt_store_notice_insert(host_gw->db, person_id, kind, message, amount, ykt_now_ms()) ==
                   YKT_OK
               ? YKT_PLUGIN_OK
               : YKT_PLUGIN_ESTORAGE;
}

static int host_id_number_valid(const char *id, const char **why)
{
    const char *dummy;
    return id != NULL && ykt_prc_id_valid(id, why ? why : &dummy);
}

static void host_mask_id_number(const char *id, char *out, size_t len)
{
    ykt_mask_id_number(id, out, len);
}

static void host_mask_name(const char *name, char *out, size_t len)
{
    ykt_mask_name(name, out, len);
}

static int64_t host_now_ms(void)
{
    return ykt_now_ms();
}

static void host_campus_date(int64_t ms, char out[11])
{
    ykt_date_of(ms, out);
}

static const ykt_host host = {
    .api_version = YKT_PLUGIN_API_VERSION,
    .size = sizeof(ykt_host),
    .log = host_log,
    .option = host_option,
    .name = host_name,
    .verb_register = host_verb_register,
    .admin_register = host_admin_register,
    .argc = host_argc,
    .arg = host_arg,
    .opt = host_opt,
    .terminal = host_terminal,
    .operator_name = host_operator_name,
    .reply_ok = host_reply_ok,
    .reply_error = host_reply_error,
    .reply_int = host_reply_int,
    .reply_str = host_reply_str,
    .reply_array = host_reply_array,
    .table_begin = host_table_begin,
    .table_row = host_table_row,
    .table_str = host_table_str,
    .table_int = host_table_int,
    .table_send = host_table_send,
    .card_present = host_card_present,
    .card_by_no = host_card_by_no,
    .person_card = host_person_card,
    .wallet_debit = host_wallet_debit,
    .wallet_hold = host_wallet_hold,
    .wallet_capture = host_wallet_capture,
    .wallet_void = host_wallet_void,
    .wallet_credit = host_wallet_credit,
    .wallet_balance = host_wallet_balance,
    .db_migrate = host_db_migrate,
    .db_stmt = host_db_stmt,
    .audit = host_audit,
    .subscribe = host_subscribe,
    .decide = host_decide,
    .timer_every = host_timer_every,
    .rule_call = host_rule_call,
    .now_ms = host_now_ms,
    .campus_date = host_campus_date,
    .wallet_reverse = host_wallet_reverse,
    .hold_settle = host_hold_settle,
    .card_check_password = host_card_check_password,
    .operator_info = host_operator_info,
    .notify = host_notify,
    .id_number_valid = host_id_number_valid,
    .mask_id_number = host_mask_id_number,
    .mask_name = host_mask_name,
    .terminal_get = host_terminal_get,
    .merchant_status = host_merchant_status,
    .card_by_uid = host_card_by_uid,
    .pin_threshold = host_pin_threshold,
    .undo_writes = host_undo_writes,
};

/* ---- loading ---- */

/* Removes everything a plugin registered, in one place. */
static void forget(ykt_plugin *p)
{
    ykt_verbs_unregister_owner(host_gw->verbs, p);
    ykt_admin_unregister_owner(host_gw->admin, p);
    ykt_events_unsubscribe_owner(p);
    ykt_timers_remove(host_gw, p, 0);
}

/* A plugin owns the tables named NAME_*: NAME must not make a core table its own
 * (plugin "daily" and the core's daily_spend), nor another plugin's (no '_' in names). */
static bool name_allowed(const char *name, char *err, size_t errlen)
{
    bool ok = name[0] >= 'a' && name[0] <= 'z';
    for (const char *c = name; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
    if (!ok) {
        snprintf(err, errlen,
                 "plugin %s: a plugin's name is lower-case letters and digits (it prefixes its "
                 "tables)",
                 name);
        return false;
    }
    if (strcmp(name, "sqlite") == 0) {
        snprintf(err, errlen, "plugin sqlite: SQLite reserves the tables named sqlite_*");
        return false;
    }
    size_t n = strlen(name);
    for (int v = 0; v < ykt_migrations_count; v++) {
        for (const char *t = strstr(ykt_migrations[v], "CREATE TABLE "); t != NULL;
             t = strstr(t + 1, "CREATE TABLE ")) {
            const char *table = t + strlen("CREATE TABLE ");
            if (strncmp(table, name, n) == 0 && table[n] == '_') {
                const char *end = table + strcspn(table, " (");
                snprintf(err, errlen,
                         "plugin %s: the name would make the core's table %.*s its own; choose "
                         "another name",
                         name, (int)(end - table), table);
                return false;
            }
        }
    }
    return true;
}

static void plugin_path(const ykt_config *cfg, const ykt_plugin_conf *pc, char *out, size_t len)
{
    if (pc->path[0] != '\0')
        ykt_strlcpy(out, pc->path, len);
    else
        snprintf(out, len, "%s/%s.so", cfg->plugins_dir, pc->name);
}

/* dlopens a plugin and negotiates its API version; on success *dl is open. */
static int open_plugin(const ykt_config *cfg, const ykt_plugin_conf *pc, void **dl,
                       int (**version)(int, const int *), char *path, size_t pathlen, char *err,
                       size_t errlen)
{
    if (!name_allowed(pc->name, err, errlen))
        return YKT_EINVAL;
    plugin_path(cfg, pc, path, pathlen);
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*dl == NULL) {
        snprintf(err, errlen, "plugin %s: cannot load %s: %s", pc->name, path, dlerror());
        return YKT_EIO;
    }
    *(void **)version = dlsym(*dl, "ykt_plugin_version");
    if (*version == NULL || dlsym(*dl, "ykt_plugin_init") == NULL ||
        dlsym(*dl, "ykt_plugin_cleanup") == NULL) {
        snprintf(err, errlen,
                 "plugin %s: %s is not a ykt plugin (it must export ykt_plugin_version, "
                 "ykt_plugin_init and ykt_plugin_cleanup)",
                 pc->name, path);
        dlclose(*dl);
        return YKT_EINVAL;
    }
    int v = (*version)((int)YKT_ARRAY_LEN(supported_versions), supported_versions);
    if (v != YKT_PLUGIN_API_VERSION) {
        snprintf(err, errlen,
                 "plugin %s: %s speaks another plugin API (it answered %d; yktd speaks version "
                 "%d): rebuild it against this yktd's ykt/plugin.h",
                 pc->name, path, v, YKT_PLUGIN_API_VERSION);
        dlclose(*dl);
        return YKT_EINVAL;
    }
    return YKT_OK;
}

/* A section with options but no enabled key: most likely a misspelt one (enabeld = yes),
 * which would leave the subsystem off with only an info line. */
static int section_says_enabled(const ykt_plugin_conf *pc, char *err, size_t errlen)
{
    if (pc->enabled_set || (pc->nopts == 0 && pc->path[0] == '\0'))
        return YKT_OK;
    snprintf(err, errlen,
             "plugin %s: [plugin.%s] has options but no enabled key (enabled = yes or no; "
             "misspelt?%s%s)",
             pc->name, pc->name, pc->nopts > 0 ? " its first key is " : "",
             pc->nopts > 0 ? pc->opts[0].key : "");
    return YKT_EINVAL;
}

int ykt_plugins_check(const ykt_config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < cfg->nplugins; i++) {
        const ykt_plugin_conf *pc = &cfg->plugins[i];
        if (section_says_enabled(pc, err, errlen) != YKT_OK)
            return YKT_EINVAL;
        if (!pc->enabled)
            continue;
        void *dl;
        int (*version)(int, const int *);
        char path[YKT_PATH_MAX + 64];
        int rc = open_plugin(cfg, pc, &dl, &version, path, sizeof path, err, errlen);
        if (rc != YKT_OK)
            return rc;
        dlclose(dl);
    }
    return YKT_OK;
}

static int load_one(ykt_gw *gw, const ykt_plugin_conf *pc, char *err, size_t errlen)
{
    ykt_plugin *p = &loaded[nloaded];
    memset(p, 0, sizeof *p);
    ykt_strlcpy(p->name, pc->name, sizeof p->name);
    p->conf = pc;
    const char *prefix = NULL;
    for (int i = 0; i < pc->nopts; i++)
        if (strcmp(pc->opts[i].key, "prefix") == 0)
            prefix = pc->opts[i].value;
    ykt_strlcpy(p->prefix, prefix ? prefix : pc->name, sizeof p->prefix);
    for (char *c = p->prefix; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    int rc = open_plugin(&gw->cfg, pc, &p->dl, &p->version, p->path, sizeof p->path, err, errlen);
    if (rc != YKT_OK)
        return rc;
    *(void **)&p->init = dlsym(p->dl, "ykt_plugin_init");
    *(void **)&p->cleanup = dlsym(p->dl, "ykt_plugin_cleanup");
    int v = YKT_PLUGIN_API_VERSION;
    p->api_version = v;
    nloaded++;
    rc = p->init(p, &host, &p->userdata);
    const char *unread = rc == YKT_PLUGIN_OK ? unread_option(p) : NULL;
    if (unread != NULL)
        snprintf(err, errlen,
                 "plugin %s: it has no option '%s' (misspelt? [plugin.%s] takes the options "
                 "the plugin's documentation lists)",
                 pc->name, unread, pc->name);
    else if (rc != YKT_PLUGIN_OK)
        snprintf(err, errlen, "plugin %s: its initialisation failed (%d); see the log above",
                 pc->name, rc);
    if (rc != YKT_PLUGIN_OK || unread != NULL) {
        p->cleanup(p->userdata); /* what init allocated before it failed */
        forget(p);
        nloaded--;
        dlclose(p->dl);
        return YKT_EINVAL;
    }
    p->initialized = true;
    ykt_info("plugin %s loaded from %s (API %d)", p->name, p->path, v);
    return YKT_OK;
}

int ykt_plugins_load(ykt_gw *gw, char *err, size_t errlen)
{
    host_gw = gw;
    for (int i = 0; i < gw->cfg.nplugins; i++) {
        const ykt_plugin_conf *pc = &gw->cfg.plugins[i];
        if (section_says_enabled(pc, err, errlen) != YKT_OK) {
            ykt_plugins_unload(gw);
            return YKT_EINVAL;
        }
        if (!pc->enabled) {
            ykt_info("plugin %s is configured but not enabled", pc->name);
            continue;
        }
        int rc = load_one(gw, pc, err, errlen);
        if (rc != YKT_OK) {
            ykt_plugins_unload(gw);
            return rc;
        }
    }
    return YKT_OK;
}

void ykt_plugins_unload(ykt_gw *gw)
{
    (void)gw;
    for (int i = nloaded - 1; i >= 0; i--) {
        ykt_plugin *p = &loaded[i];
        if (p->initialized)
            p->cleanup(p->userdata);
        forget(p);
        p->initialized = false;
    }
}

void ykt_plugins_close(void)
{
    for (int i = nloaded - 1; i >= 0; i--)
        if (loaded[i].dl != NULL)
            dlclose(loaded[i].dl);
    nloaded = 0;
}

void ykt_plugins_each(void (*fn)(const char *name, const char *prefix, const char *path,
                                 int api_version, void *arg),
                      void *arg)
{
    for (int i = 0; i < nloaded; i++)
        if (loaded[i].initialized)
            fn(loaded[i].name, loaded[i].prefix, loaded[i].path, loaded[i].api_version, arg);
}
