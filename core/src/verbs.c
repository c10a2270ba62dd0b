#include "verbs.h"
#include "common.h"
#include "log.h"
#include "map.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ykt_verbs {
    ykt_map *by_name;
};

ykt_verbs *ykt_verbs_new(void)
{
    ykt_verbs *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->by_name = ykt_map_new();
    return v;
}

void ykt_verbs_free(ykt_verbs *v)
{
    if (v == NULL)
        return;
    size_t pos = 0;
    const char *key;
    void *val;
    while (ykt_map_next(v->by_name, &pos, &key, &val))
        free(val);
    ykt_map_free(v->by_name);
    free(v);
}

static bool valid_verb_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > YKT_VERB_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            return false;
    }
    return true;
}

int ykt_verbs_register(ykt_verbs *v, const char *name, ykt_verb_fn fn, unsigned types,
                       unsigned flags, const void *owner, const char *usage)
{
    if (!valid_verb_name(name) || fn == NULL || (types & YKT_TT_ALL) == 0)
        return YKT_EINVAL;
    if (ykt_map_get(v->by_name, name) != NULL)
        return YKT_EEXIST;
    ykt_verb *verb = calloc(1, sizeof *verb);
    if (verb == NULL)
        return YKT_ENOMEM;
    ykt_strlcpy(verb->name, name, sizeof verb->name);
    verb->fn = fn;
    verb->types = types & YKT_TT_ALL;
    verb->flags = flags;
    verb->owner = owner;
    verb->usage = usage ? usage : name;
    ykt_map_put(v->by_name, verb->name, verb);
    return YKT_OK;
}

int ykt_verbs_unregister_owner(ykt_verbs *v, const void *owner)
{
    /* Collect first: deleting while iterating would skip entries. */
    char names[256][YKT_VERB_NAME_MAX + 1];
    int removed = 0, n;
    do {
        n = 0;
        size_t pos = 0;
        const char *key;
        void *val;
        while (n < 256 && ykt_map_next(v->by_name, &pos, &key, &val))
            if (((ykt_verb *)val)->owner == owner && owner != NULL)
                ykt_strlcpy(names[n++], key, sizeof names[0]);
        for (int i = 0; i < n; i++)
            free(ykt_map_del(v->by_name, names[i]));
        removed += n;
    } while (n == 256);
    return removed;
}

const ykt_verb *ykt_verbs_find(ykt_verbs *v, const char *name, size_t len)
{
    char upper[YKT_VERB_NAME_MAX + 1];
    if (len == 0 || len > YKT_VERB_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < len; i++)
        upper[i] = (char)toupper((unsigned char)name[i]);
    upper[len] = '\0';
    if (memchr(name, '\0', len) != NULL)
        return NULL;
    return ykt_map_get(v->by_name, upper);
}

const ykt_verb *ykt_verbs_next(ykt_verbs *v, size_t *pos)
{
    const char *key;
    void *val;
    return ykt_map_next(v->by_name, pos, &key, &val) ? val : NULL;
}

/* Copies a client-supplied word for an error message: printable ASCII only, bounded. */
static void printable(const char *s, size_t len, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < outlen; i++)
        out[j++] = (s[i] > 32 && s[i] < 127) ? s[i] : '?';
    if (len > 0 && j + 4 >= outlen) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

static void run(ykt_req *req, const ykt_verb *v)
{
    ykt_db *db = req->gw->db;
    req->write = (v->flags & YKT_VERB_WRITE) != 0;
    if (req->write && ykt_db_cmd_begin(db) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    v->fn(req);
    if (req->deferred) {
        if (req->write)
            ykt_db_cmd_end(db, true); /* nothing was written before deferring */
        return;
    }
    if (!req->replied) {
        ykt_error("verb %s returned without a reply", v->name);
        ykt_reply_internal(req, YKT_ESTATE);
    }
    if (req->write)
        ykt_db_cmd_end(db, !req->failed || req->keep_changes);
}

void ykt_verbs_dispatch(ykt_req *req)
{
    if (req->argc == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "empty request");
        return;
    }
    const ykt_verb *v = ykt_verbs_find(req->gw->verbs, req->argv[0], req->argl[0]);
    ykt_terminal *t = req->term;
    if (t == NULL) {
        if (v == NULL || !(v->flags & YKT_VERB_PREAUTH)) {
            ykt_reply_error(req, "NOAUTH", "authenticate first: AUTH <terminal-id> <secret>");
            return;
        }
        run(req, v);
        return;
    }
    if (t->status != YKT_TS_ENABLED) {
        ykt_reply_error(req, "NOAUTH", "terminal %s is %s", t->id,
                        ykt_terminal_status_name(t->status));
        return;
    }
    ykt_terminal_touch(t, ykt_now_ms());
    if (v == NULL) {
        char word[40];
        printable(req->argv[0], req->argl[0], word, sizeof word);
        ykt_reply_error(req, "BAD_REQUEST", "unknown verb '%s'", word);
        return;
    }
    if (!(v->types & t->type)) {
        ykt_reply_error(req, "FORBIDDEN", "%s is not allowed for %s terminals", v->name,
                        ykt_terminal_type_name(t->type));
        return;
    }
    run(req, v);
}
