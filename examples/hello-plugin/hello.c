/*
 * hello: the smallest useful ykt plugin, built out of the yktd source tree.
 *
 *   make                      (uses `pkg-config ykt-plugin`)
 *   [plugin.hello]
 *   enabled = yes
 *   path = /path/to/hello.so
 *   price = 150               (fen per HELLO.COFFEE)
 *
 * Verbs: HELLO.COFFEE <card args> at POS terminals charges the card `price` fen through the
 * wallet, paid to the terminal's owning merchant, and counts cups in the plugin's own table;
 * HELLO.CUPS <card args> at POS terminals and kiosks tells how many cups that card has had.
 */
#include <ykt/plugin.h>

#include <stdlib.h>
#include <string.h>

struct hello {
    ykt_plugin *self;
    const ykt_host *host;
    int64_t price;
};

static const char *const schema[] = {
    "CREATE TABLE hello_cups (card_no TEXT PRIMARY KEY, cups INTEGER NOT NULL) STRICT;",
};

static void coffee(ykt_request *r, void *ud)
{
    struct hello *h = ud;
    ykt_card_info card;
    ykt_money paid;
    /* The card authenticates exactly as for PAY (cryptogram, replay, status, validity). */
    if (h->host->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return; /* the host has replied the refusal */
    const ykt_terminal_info *t = h->host->terminal(r);
    if (h->host->wallet_debit(r, &card, t->owner, h->price, &paid) != YKT_PLUGIN_OK)
        return; /* INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, ... already replied */
    sqlite3_stmt *st = h->host->db_stmt(h->self, "INSERT INTO hello_cups VALUES (?, 1) ON CONFLICT "
                                                 "(card_no) DO UPDATE SET cups = cups + 1");
    sqlite3_bind_text(st, 1, card.card_no, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        /* An error reply undoes the request: the debit too. */
        h->host->reply_error(r, "STORAGE_ERROR", "cannot count the cup");
        return;
    }
    sqlite3_reset(st);
    h->host->reply_array(r, 2);
    h->host->reply_int(r, paid.charged);
    h->host->reply_int(r, paid.balance);
}

static void cups(ykt_request *r, void *ud)
{
    struct hello *h = ud;
    ykt_card_info card;
    if (h->host->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    sqlite3_stmt *st = h->host->db_stmt(h->self, "SELECT cups FROM hello_cups WHERE card_no = ?");
    sqlite3_bind_text(st, 1, card.card_no, -1, SQLITE_TRANSIENT);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    h->host->reply_int(r, n);
}

int ykt_plugin_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == YKT_PLUGIN_API_VERSION)
            return YKT_PLUGIN_API_VERSION;
    return -1;
}

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    struct hello *h = calloc(1, sizeof *h);
    if (h == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = h;
    h->self = self;
    h->host = host;
    /* Options are checked here: a wrong one stops yktd with a clear line, rather than
     * charging something nobody meant ("1.50" is not 150 fen). */
    const char *price = host->option(self, "price");
    char *end = NULL;
    h->price = price ? strtoll(price, &end, 10) : 150;
    if (price != NULL && (end == price || *end != '\0' || h->price <= 0 || h->price > 100000)) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "price = %s: expected whole fen from 1 to 100000 (150 is 1.50 CNY)", price);
        return YKT_PLUGIN_EINVAL;
    }
    if (host->db_migrate(self, schema, 1) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;
    int rc = host->verb_register(self, "HELLO.COFFEE", YKT_TERM_POS,
                                 YKT_VERB_CHANGES | YKT_VERB_SEQUENCED, coffee, h,
                                 "HELLO.COFFEE seq uid atc time amount cryptogram");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "HELLO.CUPS", YKT_TERM_POS | YKT_TERM_KIOSK, 0, cups, h,
                                 "HELLO.CUPS seq uid atc time 0 cryptogram");
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
