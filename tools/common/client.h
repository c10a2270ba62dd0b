/*
 * A small blocking RESP client for the tools (yktctl, ykt-cardsim, ykt-bench): connect,
 * send a command as an array of bulk strings, read one reply. Not for use inside yktd.
 */
#ifndef YKT_CLIENT_H
#define YKT_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "resp.h"

typedef struct ykt_client {
    int fd;
    ykt_buf in;
    char err[256];
} ykt_client;

/* Both return 0 or -1 with c->err set. */
int ykt_client_connect_unix(ykt_client *c, const char *path);
int ykt_client_connect_tcp(ykt_client *c, const char *host, int port);
void ykt_client_close(ykt_client *c);
/* Appends a command to buf (for pipelining several before one send). */
void ykt_client_format(ykt_buf *buf, int argc, const char *const *argv, const size_t *argl);
int ykt_client_send(ykt_client *c, const char *data, size_t len);
/* Reads one reply; NULL with c->err set on failure. Free with ykt_reply_free. */
ykt_reply *ykt_client_read(ykt_client *c);
/* Sends one command and reads its reply. argl may be NULL (strlen). */
ykt_reply *ykt_client_call(ykt_client *c, int argc, const char *const *argv, const size_t *argl);

#endif
