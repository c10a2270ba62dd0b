#include "client.h"
#include "common.h"
#include "secret.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ykt_client_connect_unix(ykt_client *c, const char *path)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(c->err, sizeof c->err, "%s: path too long", path);
        return -1;
    }
    ykt_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(c->err, sizeof c->err, "cannot connect to %s: %s", path, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

int ykt_client_connect_tcp(ykt_client *c, const char *host, int port)
{
    memset(c, 0, sizeof *c);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(c->err, sizeof c->err, "%s: not an IPv4 address", host);
        return -1;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(c->err, sizeof c->err, "cannot connect to %s:%d: %s", host, port, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

void ykt_client_close(ykt_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    ykt_buf_free(&c->in);
}

void ykt_client_format(ykt_buf *buf, int argc, const char *const *argv, const size_t *argl)
{
    ykt_resp_array(buf, argc);
    for (int i = 0; i < argc; i++)
        ykt_resp_bulk(buf, argv[i], argl ? argl[i] : strlen(argv[i]));
}

int ykt_client_send(ykt_client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(c->err, sizeof c->err, "send: %s", strerror(errno));
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

ykt_reply *ykt_client_read(ykt_client *c)
{
    for (;;) {
        if (c->in.len > 0) {
            ykt_reply *r;
            size_t used;
            int rc = ykt_reply_parse(c->in.data, c->in.len, &r, &used);
            if (rc == YKT_OK) {
                ykt_buf_consume(&c->in, used);
                return r;
            }
            if (rc != YKT_EAGAIN) {
                snprintf(c->err, sizeof c->err, "malformed reply from the server");
                return NULL;
            }
        }
        ykt_buf_reserve(&c->in, 65536);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(c->err, sizeof c->err, "%s",
                     n == 0 ? "the server closed the connection" : strerror(errno));
            return NULL;
        }
        c->in.len += (size_t)n;
    }
}

ykt_reply *ykt_client_call(ykt_client *c, int argc, const char *const *argv, const size_t *argl)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_client_format(&b, argc, argv, argl);
    int rc = ykt_client_send(c, b.data, b.len);
    ykt_wipe(b.data, b.len); /* may hold a password */
    ykt_buf_free(&b);
    return rc == 0 ? ykt_client_read(c) : NULL;
}
