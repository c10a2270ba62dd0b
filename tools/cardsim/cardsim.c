/*
 * ykt-cardsim: software cards and a software terminal, for demos, tests and terminal vendors.
 *
 *   ykt-cardsim [OPTIONS] card new [--phone]
 *   ykt-cardsim [OPTIONS] card list
 *   ykt-cardsim [OPTIONS] swipe --uid HEX [--phone] VERB [EXTRA...]
 *   ykt-cardsim [OPTIONS] cryptogram --uid HEX --terminal ID --seq N --atc N --time MS VERB
 *
 * A software card is a UID, a medium (physical card or phone credential) and an ATC. Its key
 * is derived from the master key exactly as the gateway derives it; a real card gets the
 * same key written into its chip when it is issued. `swipe` plays both parts of a
 * transaction: the card signs the fields, the terminal AUTHs and sends the card verb
 *
 *   VERB <seq> <uid-hex> <atc> <time-ms> <amount-fen> <cryptogram-hex16> [EXTRA...]
 *
 * and prints the gateway's reply. ATCs and terminal sequence numbers are kept in a state
 * directory so they keep increasing across runs, as a real card's and terminal's do.
 * See docs/cardsim.md for examples and for a byte-by-byte walk through one swipe.
 */
#include "client.h"
#include "common.h"
#include "render.h"
#include "secret.h"
#include "simcard.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define EXIT_REFUSED 1 /* the gateway answered with an error reply */
#define EXIT_USAGE   2 /* bad command line, missing key file, no connection, ... */

#define REPLY_TIMEOUT_S 30

typedef struct options {
    const char *host, *port, *terminal, *secret;
    const char *state_dir, *master_key, *campus;
    const char *uid, *seq, *atc, *time, *amount, *key_of, *tamper_amount;
    bool phone, replay, json, verbose;
    const char *command, *subcommand, *verb;
    const char *extra[YKT_SIMCARD_EXTRA_MAX];
    int nextra;
} options;

static void usage(FILE *out)
{
    fputs("usage: ykt-cardsim [OPTIONS] COMMAND ...\n"
          "\n"
          "  card new [--phone]    print a fresh random UID and start its ATC at 0\n"
          "  card list             list the software cards in the state directory\n"
          "  swipe --uid HEX [--phone] VERB [EXTRA...]\n"
          "                        AUTH as a terminal and send one card verb; EXTRA arguments\n"
          "                        (a PIN, a door id) follow the signed fields unsigned;\n"
          "                        after -- words starting with '-' are EXTRA arguments too\n"
          "  cryptogram --uid HEX [--phone] --terminal ID --seq N --atc N --time MS\n"
          "             [--amount FEN] VERB\n"
          "                        print the cryptogram; with -v every input byte as well\n"
          "\n"
          "Gateway and terminal (swipe):\n"
          "  -h HOST               gateway address (default 127.0.0.1)\n"
          "  -p PORT               terminal port (default 7070)\n"
          "  --terminal ID         terminal id, e.g. POS-C1-01\n"
          "  --secret S            terminal secret (default $YKT_TERMINAL_SECRET)\n"
          "Card and keys:\n"
          "  --uid HEX             the card's UID, 8 to 20 hex digits\n"
          "  --phone               the phone credential (AID YKV) instead of the card (YKT)\n"
          "  --master-key FILE     master key file, mode 0600 or 0400 (default\n"
          "                        var/demo-master.key)\n"
          "  --campus CODE         campus code (default DEMO)\n"
          "  --state DIR           ATCs and terminal sequence numbers (default var/cardsim)\n"
          "Transaction fields:\n"
          "  --seq N               terminal sequence number (default: the terminal's next one)\n"
          "  --time MS             card time in epoch milliseconds (default: now)\n"
          "  --amount FEN          amount in fen (default 0)\n"
          "Misbehaving on purpose, to watch the gateway refuse (R-C12):\n"
          "  --atc N               sign with ATC N instead of the card's next one\n"
          "  --replay              sign again with the last ATC used: REPLAY\n"
          "  --key-of UID          sign with the key of card UID (a cloned card): BAD_CRYPTOGRAM\n"
          "  --tamper-amount FEN   sign --amount but send FEN: BAD_CRYPTOGRAM\n"
          "Output:\n"
          "  --json                print JSON\n"
          "  -v                    show what is sent (swipe) or computed (cryptogram)\n"
          "  --help                this text\n"
          "\n"
          "Exit status: 0 the gateway accepted, 1 it answered with an error, 2 usage or\n"
          "connection problem.\n",
          out);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void json_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static int parse_num(const char *name, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (ykt_parse_int64(s, min, max, out) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: %s must be a whole number from %" PRId64 " to %" PRId64 "\n",
                name, min, max);
        return -1;
    }
    return 0;
}

static int parse_uid(const char *s, uint8_t uid[YKT_UID_MAX], size_t *len)
{
    if (s == NULL) {
        fprintf(stderr, "ykt-cardsim: --uid is required\n");
        return -1;
    }
    if (ykt_simcard_parse_uid(s, uid, len) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: UID %s is not 8 to 20 hex digits (4 to 10 bytes)\n", s);
        return -1;
    }
    return 0;
}

/* Loads the master key and sets up the card named by uid_hex. */
static int load_card(const options *o, const char *uid_hex, struct ykt_simcard *card)
{
    uint8_t master[YKT_AES_KEY_LEN], uid[YKT_UID_MAX];
    size_t uid_len;
    char err[512];
    if (parse_uid(uid_hex, uid, &uid_len) != 0)
        return -1;
    if (ykt_master_key_load(o->master_key, master, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: %s\n", err);
        return -1;
    }
    int rc = ykt_simcard_init(card, master, o->campus, uid, uid_len,
                              o->phone ? YKT_MEDIUM_PHONE : YKT_MEDIUM_CARD);
    ykt_wipe(master, sizeof master);
    if (rc != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: cannot derive the card key: the campus code must be 1 byte "
                        "or more, and UID + 3 + campus code at most 31 bytes\n");
        return -1;
    }
    return 0;
}

/* ---- the state directory ------------------------------------------------------------------
 *
 * One small text file per counter, holding its last value in decimal:
 *   DIR/<UID>.card, DIR/<UID>.phone   the last ATC a software card used
 *   DIR/<TERMINAL>.seq                the last sequence number a terminal sent
 * A counter is written (temporary file, fsync, rename) before the swipe that uses it is
 * sent, so a crash or a lost reply can skip a value but never reuse one. DIR/.lock
 * serialises concurrent ykt-cardsim runs.
 */

static int mkdir_p(const char *dir)
{
    char path[1024];
    if (ykt_strlcpy(path, dir, sizeof path) >= sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Opens and locks DIR/.lock, creating DIR; returns the descriptor or -1. */
static int state_lock(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = -1;
    if (mkdir_p(dir) == 0)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "ykt-cardsim: state directory %s: %s\n", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void state_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the lock */
}

/* Reads the counter DIR/NAME into *value; a missing file counts as 0. */
static int state_read(const char *dir, const char *name, uint64_t max, uint64_t *value)
{
    char path[1024], text[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT) {
            *value = 0;
            return 0;
        }
        fprintf(stderr, "ykt-cardsim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *ok = fgets(text, sizeof text, f);
    fclose(f);
    int64_t v;
    if (ok != NULL)
        text[strcspn(text, "\r\n")] = '\0';
    /* A damaged counter is an error, not a zero: starting again at 1 would replay. */
    if (ok == NULL || ykt_parse_int64(text, 0, (int64_t)max, &v) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: %s does not hold a counter; fix or remove it\n", path);
        return -1;
    }
    *value = (uint64_t)v;
    return 0;
}

/* Replaces DIR/NAME with value atomically: a reader sees the old value or the new one. */
static int state_write(const char *dir, const char *name, uint64_t value)
{
    char path[1024], tmp[1024], text[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
    int len = snprintf(text, sizeof text, "%" PRIu64 "\n", value);
    int fd = mkstemp(tmp);
    if (fd < 0)
        goto fail;
    if (write(fd, text, (size_t)len) != len || fsync(fd) != 0 || fchmod(fd, 0644) != 0) {
        close(fd);
        unlink(tmp);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto fail;
    }
    /* Make the rename itself durable. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    fprintf(stderr, "ykt-cardsim: cannot write %s: %s\n", path, strerror(errno));
    return -1;
}

static void card_file_name(const struct ykt_simcard *card, char *out, size_t len)
{
    char hex[2 * YKT_UID_MAX + 1];
    ykt_simcard_hex(card->uid, card->uid_len, hex);
    snprintf(out, len, "%s.%s", hex, card->medium == YKT_MEDIUM_PHONE ? "phone" : "card");
}

/* ---- card new / card list ----------------------------------------------------------------- */

static int cmd_card_new(const options *o)
{
    uint8_t uid[7];
    char hex[2 * sizeof uid + 1], name[64];
    int medium = o->phone ? YKT_MEDIUM_PHONE : YKT_MEDIUM_CARD;
    if (ykt_simcard_new_uid(medium, uid) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: no randomness available\n");
        return EXIT_USAGE;
    }
    ykt_simcard_hex(uid, sizeof uid, hex);
    snprintf(name, sizeof name, "%s.%s", hex, o->phone ? "phone" : "card");
    int lock = state_lock(o->state_dir);
    int rc = lock >= 0 ? state_write(o->state_dir, name, 0) : -1;
    state_unlock(lock);
    if (rc != 0)
        return EXIT_USAGE;
    if (o->json)
        printf("{\"uid\":\"%s\",\"medium\":\"%s\"}\n", hex, o->phone ? "phone" : "card");
    else
        printf("%s\n", hex);
    return 0;
}

static int is_card_file(const struct dirent *e)
{
    const char *dot = strrchr(e->d_name, '.');
    return e->d_name[0] != '.' && dot != NULL &&
           (strcmp(dot, ".card") == 0 || strcmp(dot, ".phone") == 0);
}

static int cmd_card_list(const options *o)
{
    struct dirent **names;
    int n = scandir(o->state_dir, &names, is_card_file, alphasort);
    if (n < 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "ykt-cardsim: %s: %s\n", o->state_dir, strerror(errno));
            return EXIT_USAGE;
        }
        n = 0;
        names = NULL;
    }
    if (o->json)
        fputc('[', stdout);
    else
        printf("%-20s  %-6s  %s\n", "UID", "MEDIUM", "LAST ATC");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *name = names[i]->d_name, *dot = strrchr(name, '.');
        uint64_t atc = 0;
        if (state_read(o->state_dir, name, UINT32_MAX, &atc) != 0)
            rc = EXIT_USAGE;
        *dot = '\0';
        if (o->json)
            printf("%s{\"uid\":\"%s\",\"medium\":\"%s\",\"atc\":%" PRIu64 "}", i ? "," : "", name,
                   dot + 1, atc);
        else
            printf("%-20s  %-6s  %" PRIu64 "\n", name, dot + 1, atc);
        free(names[i]);
    }
    free(names);
    if (o->json)
        fputs("]\n", stdout);
    return rc;
}

/* ---- cryptogram ----------------------------------------------------------------------------- */

static void print_hex_field(const uint8_t *p, size_t len)
{
    char hex[2 * YKT_CRYPTOGRAM_ENCODED_MAX + 1];
    ykt_simcard_hex(p, len, hex);
    fputs(hex, stdout);
}

/*
 * With -v, shows the encoding E field by field in the layout of docs/card-crypto.md, so a
 * vendor can find the first byte where their implementation differs.
 */
static void print_encoding(const ykt_cryptogram_input *in, const uint8_t *enc, size_t len)
{
    size_t t = strlen(in->terminal_id), p = strlen(in->operation), off = 0;
    struct {
        size_t size;
        const char *label;
    } fields[] = {
        {1, "format version"},
        {1, "T (terminal id length)"},
        {t, "terminal id"},
        {8, "terminal sequence"},
        {1, "U (uid length)"},
        {in->uid_len, "card UID"},
        {4, "ATC"},
        {1, "P (operation length)"},
        {p, "operation"},
        {8, "amount (fen)"},
        {8, "time (ms)"},
    };
    printf("encoding E, %zu bytes:\n", len);
    for (size_t i = 0; i < YKT_ARRAY_LEN(fields); i++) {
        printf("  %-24s ", fields[i].label);
        print_hex_field(enc + off, fields[i].size);
        fputc('\n', stdout);
        off += fields[i].size;
    }
    fputs("E     ", stdout);
    print_hex_field(enc, len);
    fputc('\n', stdout);
}

static int cmd_cryptogram(const options *o)
{
    struct ykt_simcard card;
    int64_t seq, atc, time_ms, amount = 0;
    if (o->terminal == NULL || o->seq == NULL || o->atc == NULL || o->time == NULL ||
        o->verb == NULL || o->nextra > 0) {
        fprintf(stderr, "ykt-cardsim: cryptogram needs --uid, --terminal, --seq, --atc, --time "
                        "and one VERB\n");
        return EXIT_USAGE;
    }
    if (parse_num("--seq", o->seq, 0, INT64_MAX, &seq) != 0 ||
        parse_num("--atc", o->atc, 0, UINT32_MAX, &atc) != 0 ||
        parse_num("--time", o->time, INT64_MIN, INT64_MAX, &time_ms) != 0 ||
        (o->amount && parse_num("--amount", o->amount, INT64_MIN, INT64_MAX, &amount) != 0) ||
        load_card(o, o->uid, &card) != 0)
        return EXIT_USAGE;

    ykt_cryptogram_input in = {0};
    in.terminal_id = o->terminal;
    in.terminal_seq = (uint64_t)seq;
    memcpy(in.uid, card.uid, card.uid_len);
    in.uid_len = card.uid_len;
    in.atc = (uint32_t)atc;
    in.operation = ykt_simcard_operation(o->verb); /* PAY.OFFLINE: the PAY of the sale */
    in.amount = amount;
    in.time_ms = time_ms;
    uint8_t enc[YKT_CRYPTOGRAM_ENCODED_MAX], mac[YKT_CMAC_LEN];
    size_t len;
    if (ykt_cryptogram_encode(&in, enc, sizeof enc, &len) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: the terminal id must be 1 to 63 bytes and the verb 1 to "
                        "31 bytes\n");
        return EXIT_USAGE;
    }
    /* The cryptogram is the first 8 bytes of the CMAC; -v shows all 16. */
    if (ykt_aes_cmac(card.key, enc, len, mac) != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: AES-CMAC failed\n");
        return EXIT_USAGE;
    }
    char hex[2 * YKT_CMAC_LEN + 1];
    ykt_simcard_hex(mac, YKT_CRYPTOGRAM_LEN, hex);
    if (o->json) {
        char ehex[2 * YKT_CRYPTOGRAM_ENCODED_MAX + 1];
        ykt_simcard_hex(enc, len, ehex);
        printf("{\"cryptogram\":\"%s\",\"encoding\":\"%s\"}\n", hex, ehex);
        return 0;
    }
    if (o->verbose) {
        printf("card key derivation (AN10922), M = UID || AID || campus code:\n  M     ");
        print_hex_field(card.uid, card.uid_len);
        printf(" %s ", card.medium == YKT_MEDIUM_PHONE ? "594B56" : "594B54");
        print_hex_field((const uint8_t *)o->campus, strlen(o->campus));
        printf("\n  card key  ");
        print_hex_field(card.key, sizeof card.key);
        fputc('\n', stdout);
        print_encoding(&in, enc, len);
        fputs("CMAC  ", stdout);
        print_hex_field(mac, sizeof mac);
        printf("\ncryptogram (first 8 bytes):\n");
    }
    printf("%s\n", hex);
    return 0;
}

/* ---- swipe ---------------------------------------------------------------------------------- */

/* Connects to host (a name or an IPv4 address) and waits at most REPLY_TIMEOUT_S per reply. */
static int connect_gateway(ykt_client *c, const char *host, const char *port_text)
{
    int64_t port;
    if (parse_num("-p", port_text, 1, 65535, &port) != 0)
        return -1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    char addr[INET_ADDRSTRLEN];
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "ykt-cardsim: %s: %s\n", host, gai_strerror(gai));
        return -1;
    }
    inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof addr);
    freeaddrinfo(ai);
    if (ykt_client_connect_tcp(c, addr, (int)port) != 0) {
        fprintf(stderr, "ykt-cardsim: %s\n", c->err);
        return -1;
    }
    struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

/* Prints a reply; returns the exit status for it. */
static int print_reply(const ykt_reply *r, bool json)
{
    if (r->type == YKT_REPLY_ERROR) {
        /* "-CODE human message": CODE is the stable word, the rest is for people. */
        const char *space = strchr(r->str, ' ');
        size_t n = space ? (size_t)(space - r->str) : strlen(r->str);
        if (json) {
            const char *msg = space ? space + 1 : "";
            fputs("{\"error\":", stdout);
            json_string(stdout, r->str, n);
            fputs(",\"message\":", stdout);
            json_string(stdout, msg, strlen(msg));
            fputs("}\n", stdout);
        } else {
            printf("(error) %s\n", r->str);
        }
        return EXIT_REFUSED;
    }
    if (!json) {
        render_text(stdout, r);
        return 0;
    }
    /* render_json prints one JSON value and a newline; wrap it as {"reply": ...}. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return EXIT_USAGE;
    render_json(mem, r);
    fclose(mem);
    while (len > 0 && text[len - 1] == '\n')
        len--;
    printf("{\"reply\":%.*s}\n", (int)len, text);
    free(text);
    return 0;
}

/* Prints the command as sent, one argument per field, for -v. */
static void print_sent(const struct ykt_simcard_args *a)
{
    fputs(">", stderr);
    for (int i = 0; i < a->argc; i++)
        fprintf(stderr, " %s", a->argv[i]);
    fputc('\n', stderr);
}

/*
 * Picks the terminal sequence number: --seq if given (a retry re-sends an old one on
 * purpose), otherwise one more than the last this terminal sent. Either way the stored
 * counter only moves forward. Called with the state lock held.
 */
static int next_seq(const options *o, uint64_t *seq)
{
    char name[128];
    uint64_t last;
    if (!ykt_is_ident(o->terminal, YKT_CRYPTOGRAM_TERMINAL_MAX) || o->terminal[0] == '.') {
        fprintf(stderr, "ykt-cardsim: terminal id %s is not 1 to 63 of [A-Za-z0-9._-]\n",
                o->terminal);
        return -1;
    }
    snprintf(name, sizeof name, "%s.seq", o->terminal);
    if (state_read(o->state_dir, name, INT64_MAX, &last) != 0)
        return -1;
    if (o->seq != NULL) {
        int64_t v;
        if (parse_num("--seq", o->seq, 1, INT64_MAX, &v) != 0)
            return -1;
        *seq = (uint64_t)v;
    } else {
        *seq = last + 1;
    }
    return *seq > last ? state_write(o->state_dir, name, *seq) : 0;
}

/*
 * The card's side of the swipe: signs tx at the card's next ATC (or at the ATC that
 * --atc / --replay ask for) and records the ATC before anything is sent. Called with the
 * state lock held.
 */
static int card_sign(const options *o, struct ykt_simcard *card, const struct ykt_simcard *signer,
                     const struct ykt_simcard_tx *tx, struct ykt_simcard_args *args)
{
    char name[64];
    uint64_t last;
    card_file_name(card, name, sizeof name);
    if (state_read(o->state_dir, name, UINT32_MAX, &last) != 0)
        return -1;
    card->atc = (uint32_t)last;

    int rc;
    if (o->atc == NULL && !o->replay && signer == card) {
        /* What a real card does: ATC + 1, then sign. */
        rc = ykt_simcard_swipe_args(card, tx, args);
    } else {
        int64_t atc = (int64_t)last + 1;
        if (o->replay && last == 0) {
            fprintf(stderr, "ykt-cardsim: card %s has not been swiped yet; nothing to replay\n",
                    name);
            return -1;
        }
        if (o->replay)
            atc = (int64_t)last;
        else if (o->atc != NULL && parse_num("--atc", o->atc, 0, UINT32_MAX, &atc) != 0)
            return -1;
        rc = atc > UINT32_MAX ? YKT_ELIMIT : ykt_simcard_sign_args(signer, (uint32_t)atc, tx, args);
        if (rc == YKT_OK && (uint64_t)atc > last)
            card->atc = (uint32_t)atc;
    }
    if (rc == YKT_ELIMIT) {
        fprintf(stderr, "ykt-cardsim: card %s has used its last ATC; issue a new card\n", name);
        return -1;
    }
    if (rc != YKT_OK) {
        fprintf(stderr, "ykt-cardsim: cannot sign: the terminal id must be 1 to 63 bytes and "
                        "the verb 1 to 31 bytes\n");
        return -1;
    }
    return card->atc > last ? state_write(o->state_dir, name, card->atc) : 0;
}

static int cmd_swipe(const options *o)
{
    struct ykt_simcard card, other;
    const struct ykt_simcard *signer = &card;
    struct ykt_simcard_tx tx = {.terminal_id = o->terminal, .verb = o->verb};
    struct ykt_simcard_args args;
    int64_t tamper = 0;

    if (o->terminal == NULL || o->secret == NULL || o->verb == NULL) {
        fprintf(stderr, "ykt-cardsim: swipe needs --terminal, --secret (or "
                        "$YKT_TERMINAL_SECRET), --uid and VERB\n");
        return EXIT_USAGE;
    }
    if ((o->amount && parse_num("--amount", o->amount, INT64_MIN, INT64_MAX, &tx.amount) != 0) ||
        (o->time && parse_num("--time", o->time, INT64_MIN, INT64_MAX, &tx.time_ms) != 0) ||
        (o->tamper_amount &&
         parse_num("--tamper-amount", o->tamper_amount, INT64_MIN, INT64_MAX, &tamper) != 0) ||
        load_card(o, o->uid, &card) != 0)
        return EXIT_USAGE;
    if (o->time == NULL)
        tx.time_ms = ykt_now_ms();
    if (o->key_of != NULL) {
        /* A clone: this card's UID, but a key the card centre derived for another card. */
        if (load_card(o, o->key_of, &other) != 0)
            return EXIT_USAGE;
        memcpy(other.uid, card.uid, card.uid_len);
        other.uid_len = card.uid_len;
        signer = &other;
    }

    /* AUTH first: a refused terminal should not use up an ATC or a sequence number. */
    ykt_client c;
    if (connect_gateway(&c, o->host, o->port) != 0)
        return EXIT_USAGE;
    const char *auth[] = {"AUTH", o->terminal, o->secret};
    ykt_reply *r = ykt_client_call(&c, 3, auth, NULL);
    int rc = EXIT_USAGE;
    if (r == NULL) {
        fprintf(stderr, "ykt-cardsim: AUTH: %s\n", c.err);
        goto done;
    }
    if (r->type == YKT_REPLY_ERROR) {
        rc = print_reply(r, o->json);
        goto done;
    }
    ykt_reply_free(r);
    r = NULL;

    /* The terminal learns its sequence number before the card signs: it is signed data. */
    int lock = state_lock(o->state_dir);
    int ok = lock >= 0 && next_seq(o, &tx.seq) == 0 && card_sign(o, &card, signer, &tx, &args) == 0;
    state_unlock(lock);
    if (!ok)
        goto done;
    if (o->tamper_amount != NULL) {
        /* A dishonest terminal changes the amount after the card has signed. */
        snprintf(args.amount, sizeof args.amount, "%" PRId64, tamper);
        args.argl[YKT_SIMCARD_ARG_AMOUNT] = strlen(args.amount);
    }
    for (int i = 0; i < o->nextra; i++)
        ykt_simcard_args_push(&args, o->extra[i]);
    if (o->verbose)
        print_sent(&args);

    r = ykt_client_call(&c, args.argc, args.argv, args.argl);
    if (r == NULL)
        fprintf(stderr, "ykt-cardsim: %s: %s\n", o->verb, c.err);
    else
        rc = print_reply(r, o->json);
done:
    if (r != NULL)
        ykt_reply_free(r);
    ykt_client_close(&c);
    ykt_wipe(&card, sizeof card);
    ykt_wipe(&other, sizeof other);
    return rc;
}

/* ---- command line --------------------------------------------------------------------------- */

/* Matches option name at argv[*i]; for a valued option stores the next word in *value. */
static bool opt(int argc, char **argv, int *i, const char *name, const char **value, bool *bad)
{
    if (strcmp(argv[*i], name) != 0)
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "ykt-cardsim: %s needs a value\n", name);
        *bad = true;
        return true;
    }
    *value = argv[++*i];
    return true;
}

static int parse_args(int argc, char **argv, options *o)
{
    bool bad = false, dashdash = false;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        /* Words are COMMAND [SUBCOMMAND] VERB EXTRA...; options may come anywhere, and after
         * "--" everything is a word (an extra argument that starts with '-'). */
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            if (o->command == NULL) {
                o->command = a;
            } else if (strcmp(o->command, "card") == 0 && o->subcommand == NULL) {
                o->subcommand = a;
            } else if (o->verb == NULL) {
                o->verb = a;
            } else if (o->nextra < YKT_SIMCARD_EXTRA_MAX) {
                o->extra[o->nextra++] = a;
            } else {
                fprintf(stderr, "ykt-cardsim: at most %d extra arguments\n", YKT_SIMCARD_EXTRA_MAX);
                return -1;
            }
            continue;
        }
        if (strcmp(a, "--") == 0)
            dashdash = true;
        else if (strcmp(a, "--phone") == 0)
            o->phone = true;
        else if (strcmp(a, "--replay") == 0)
            o->replay = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "-v") == 0)
            o->verbose = true;
        else if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (!(opt(argc, argv, &i, "-h", &o->host, &bad) ||
                     opt(argc, argv, &i, "-p", &o->port, &bad) ||
                     opt(argc, argv, &i, "--terminal", &o->terminal, &bad) ||
                     opt(argc, argv, &i, "--secret", &o->secret, &bad) ||
                     opt(argc, argv, &i, "--state", &o->state_dir, &bad) ||
                     opt(argc, argv, &i, "--master-key", &o->master_key, &bad) ||
                     opt(argc, argv, &i, "--campus", &o->campus, &bad) ||
                     opt(argc, argv, &i, "--uid", &o->uid, &bad) ||
                     opt(argc, argv, &i, "--seq", &o->seq, &bad) ||
                     opt(argc, argv, &i, "--atc", &o->atc, &bad) ||
                     opt(argc, argv, &i, "--time", &o->time, &bad) ||
                     opt(argc, argv, &i, "--amount", &o->amount, &bad) ||
                     opt(argc, argv, &i, "--key-of", &o->key_of, &bad) ||
                     opt(argc, argv, &i, "--tamper-amount", &o->tamper_amount, &bad))) {
            fprintf(stderr, "ykt-cardsim: unknown option %s\n", a);
            return -1;
        }
    }
    if (bad)
        return -1;
    if (o->replay && o->atc != NULL) {
        fprintf(stderr, "ykt-cardsim: --replay and --atc exclude each other\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o = {
        .host = "127.0.0.1",
        .port = "7070",
        .secret = getenv("YKT_TERMINAL_SECRET"),
        .state_dir = "var/cardsim",
        .master_key = "var/demo-master.key",
        .campus = "DEMO",
    };
    if (o.secret != NULL && o.secret[0] == '\0')
        o.secret = NULL;
    if (parse_args(argc, argv, &o) != 0 || o.command == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* Verbs are upper case on the wire and in the signed data; accept "pay" as "PAY". */
    char verb[YKT_CRYPTOGRAM_OPERATION_MAX + 2];
    if (o.verb != NULL) {
        ykt_strlcpy(verb, o.verb, sizeof verb);
        for (char *p = verb; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        o.verb = verb;
    }

    const char *cmd = o.command, *sub = o.subcommand ? o.subcommand : "";
    if (strcmp(cmd, "card") == 0 && strcmp(sub, "new") == 0)
        return cmd_card_new(&o);
    if (strcmp(cmd, "card") == 0 && strcmp(sub, "list") == 0)
        return cmd_card_list(&o);
    if (strcmp(cmd, "swipe") == 0)
        return cmd_swipe(&o);
    if (strcmp(cmd, "cryptogram") == 0)
        return cmd_cryptogram(&o);
    fprintf(stderr, "ykt-cardsim: unknown command %s %s\n", cmd, sub);
    usage(stderr);
    return EXIT_USAGE;
}
