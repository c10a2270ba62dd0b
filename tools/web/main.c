/*
 * ykt-web [-c FILE] [-l ADDR:PORT] [-s SOCKET] [-r WEBROOT]
 *
 * The web portal: static pages and a JSON API in front of yktd's admin socket. Plain HTTP
 * on loopback; put nginx in front for TLS (docs/operations.md). Configuration: an INI file
 * with a [web] section (conf/ykt-web.ini), command-line options override it.
 */
#include "web.h"

#include "secret.h"
#include "util.h"

#include <ini.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void web_config_defaults(web_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    ykt_strlcpy(cfg->listen_host, "127.0.0.1", sizeof cfg->listen_host);
    cfg->listen_port = 8080;
    ykt_strlcpy(cfg->admin_socket, "var/yktd.sock", sizeof cfg->admin_socket);
    ykt_strlcpy(cfg->root, "web", sizeof cfg->root);
    cfg->session_idle_ms = 15 * 60 * 1000;
    cfg->session_max_ms = 12 * 3600 * 1000;
    cfg->login_per_minute = 10;
    cfg->threads = 4;
}

static int parse_listen(web_config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= sizeof cfg->listen_host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || end == colon + 1)
        return -1;
    memcpy(cfg->listen_host, v, (size_t)(colon - v));
    cfg->listen_host[colon - v] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

/* "90s", "15m", "12h" or plain seconds. */
static int parse_duration(const char *v, int64_t *ms)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    int64_t unit = 1000;
    if (*end == 'm')
        unit = 60000;
    else if (*end == 'h')
        unit = 3600000;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (end == v || n <= 0 || n > 1000000 || (*end && end[1] != '\0'))
        return -1;
    *ms = n * unit;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

typedef struct load_ctx {
    web_config *cfg;
    char *err;
    size_t errlen;
    const char *path;
    bool failed;
} load_ctx;

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *lc = user;
    web_config *cfg = lc->cfg;
    int rc = 0;
    if (strcmp(section, "web") != 0) {
        rc = -2;
    } else if (strcmp(name, "listen") == 0) {
        rc = parse_listen(cfg, value);
    } else if (strcmp(name, "admin_socket") == 0) {
        rc = ykt_strlcpy(cfg->admin_socket, value, sizeof cfg->admin_socket) <
                     sizeof cfg->admin_socket
                 ? 0
                 : -1;
    } else if (strcmp(name, "root") == 0) {
        rc = ykt_strlcpy(cfg->root, value, sizeof cfg->root) < sizeof cfg->root ? 0 : -1;
    } else if (strcmp(name, "service_user") == 0) {
        rc = ykt_strlcpy(cfg->service_user, value, sizeof cfg->service_user) <
                     sizeof cfg->service_user
                 ? 0
                 : -1;
    } else if (strcmp(name, "service_password_file") == 0) {
        rc = ykt_strlcpy(cfg->service_password_file, value, sizeof cfg->service_password_file) <
                     sizeof cfg->service_password_file
                 ? 0
                 : -1;
    } else if (strcmp(name, "session_idle") == 0) {
        rc = parse_duration(value, &cfg->session_idle_ms);
    } else if (strcmp(name, "session_max") == 0) {
        rc = parse_duration(value, &cfg->session_max_ms);
    } else if (strcmp(name, "login_per_minute") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        rc = *end == '\0' && n >= 1 && n <= 1000 ? 0 : -1;
        cfg->login_per_minute = (int)n;
    } else if (strcmp(name, "threads") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        rc = *end == '\0' && n >= 1 && n <= 64 ? 0 : -1;
        cfg->threads = (int)n;
    } else if (strcmp(name, "secure_cookies") == 0) {
        rc = parse_bool(value, &cfg->secure_cookies);
    } else if (strcmp(name, "trust_proxy") == 0) {
        rc = parse_bool(value, &cfg->trust_proxy);
    } else {
        rc = -2;
    }
    if (rc != 0 && !lc->failed) {
        lc->failed = true;
        if (rc == -2)
            snprintf(lc->err, lc->errlen, "%s: unknown key [%s] %s", lc->path, section, name);
        else
            snprintf(lc->err, lc->errlen, "%s: bad value for [web] %s: %s", lc->path, name, value);
    }
    return 1;
}

int web_config_load(web_config *cfg, const char *path, char *err, size_t errlen)
{
    load_ctx lc = {.cfg = cfg, .err = err, .errlen = errlen, .path = path};
    int rc = ini_parse(path, ini_cb, &lc);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    if (rc > 0 && !lc.failed) {
        snprintf(err, errlen, "%s:%d: syntax error", path, rc);
        return -1;
    }
    return lc.failed ? -1 : 0;
}

static void usage(FILE *out)
{
    fputs("usage: ykt-web [-c FILE] [-l ADDR:PORT] [-s SOCKET] [-r WEBROOT]\n"
          "\n"
          "  -c FILE         configuration ([web] section; see docs/web.md)\n"
          "  -l ADDR:PORT    listen address (default 127.0.0.1:8080; port 0 picks one)\n"
          "  -s SOCKET       yktd's admin socket (default var/yktd.sock)\n"
          "  -r WEBROOT      the static pages (default web)\n",
          out);
}

int main(int argc, char **argv)
{
    static web_config cfg;
    web_config_defaults(&cfg);
    const char *listen = NULL, *socket_path = NULL, *root = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            char err[600];
            if (web_config_load(&cfg, argv[++i], err, sizeof err) != 0) {
                fprintf(stderr, "ykt-web: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "-l") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(a, "-s") == 0 && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (strcmp(a, "-r") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ykt-web: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (listen != NULL && parse_listen(&cfg, listen) != 0) {
        fprintf(stderr, "ykt-web: -l wants ADDR:PORT\n");
        return 2;
    }
    if (socket_path != NULL)
        ykt_strlcpy(cfg.admin_socket, socket_path, sizeof cfg.admin_socket);
    if (root != NULL)
        ykt_strlcpy(cfg.root, root, sizeof cfg.root);
    if (cfg.service_user[0] != '\0' && cfg.service_password_file[0] == '\0') {
        fprintf(stderr, "ykt-web: service_user needs service_password_file\n");
        return 2;
    }

    /* Signals are taken by sigwait on this thread; the server's threads never see them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    web_sessions_init(&cfg);
    web_service_init(&cfg);
    /* Check the service account now, so that a wrong setup is seen at start. */
    char err[256] = "";
    const char *who[] = {"whoami"};
    ykt_reply *r = web_service_call(1, who, err, sizeof err);
    if (r == NULL) {
        fprintf(stderr, "ykt-web: warning: yktd not reachable yet (%s); will retry\n", err);
    } else {
        json_t *j = web_reply_json(r);
        const char *role = json_string_value(json_object_get(j, "role"));
        if (r->type == YKT_REPLY_ERROR || role == NULL ||
            (strcmp(role, "portal") != 0 && strcmp(role, "superuser") != 0))
            fprintf(stderr,
                    "ykt-web: warning: the service connection is not a portal operator (%s); "
                    "holders cannot sign in (docs/web.md)\n",
                    r->type == YKT_REPLY_ERROR ? r->str
                    : role                     ? role
                                               : "?");
        else if (strcmp(role, "superuser") == 0)
            fprintf(stderr,
                    "ykt-web: warning: the service connection is %s, a superuser; "
                    "give ykt-web a portal operator instead (service_user, "
                    "docs/web.md)\n",
                    cfg.service_user[0] ? cfg.service_user : "the local superuser");
        const char *must = json_string_value(json_object_get(j, "must_change_password"));
        if (must != NULL && strcmp(must, "yes") == 0)
            fprintf(stderr,
                    "ykt-web: warning: %s still has its initial password, so yktd refuses its "
                    "commands: yktctl -u %s passwd, then update service_password_file\n",
                    cfg.service_user, cfg.service_user);
        json_decref(j);
        ykt_reply_free(r);
    }

    int port = 0;
    struct MHD_Daemon *d = web_http_start(&cfg, &port);
    if (d == NULL)
        return 1;
    fprintf(stderr, "ykt-web: listening on http://%s:%d/ (pages %s, admin socket %s)\n",
            cfg.listen_host, port, cfg.root, cfg.admin_socket);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "ykt-web: stopping on signal %d\n", sig);
    MHD_stop_daemon(d);
    web_sessions_shutdown();
    web_service_close();
    return 0;
}
