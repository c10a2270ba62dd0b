#include "render.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence; returns its length (1 for invalid bytes). */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0) {
        *cp = 0xfffd;
        return 1;
    }
    uint32_t v = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    *cp = v;
    return n;
}

static bool is_wide(uint32_t c)
{
    return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
           (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
           (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
           (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
}

int display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        w += is_wide(cp) ? 2 : 1;
    }
    return w;
}

static const char *cell_text(const ykt_reply *r, char *buf, size_t len)
{
    switch (r->type) {
    case YKT_REPLY_INT:
        snprintf(buf, len, "%" PRId64, r->integer);
        return buf;
    case YKT_REPLY_NULL:
        return "-";
    case YKT_REPLY_ARRAY:
        snprintf(buf, len, "[%zu items]", r->nelem);
        return buf;
    default:
        return r->str;
    }
}

static bool is_table(const ykt_reply *r)
{
    return r->type == YKT_REPLY_ARRAY && r->nelem >= 2 && r->elem[0]->type == YKT_REPLY_STATUS &&
           (strcmp(r->elem[0]->str, "TABLE") == 0 || strcmp(r->elem[0]->str, "RECORD") == 0 ||
            strcmp(r->elem[0]->str, "REJECTED") == 0 ||
            strcmp(r->elem[0]->str, "VIOLATIONS") == 0) &&
           r->elem[1]->type == YKT_REPLY_ARRAY;
}

static void pad(FILE *out, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', out);
}

static void render_record(FILE *out, const ykt_reply *r)
{
    const ykt_reply *cols = r->elem[1];
    int keyw = 0;
    for (size_t i = 0; i < cols->nelem; i++) {
        int w = display_width(cols->elem[i]->str);
        if (w > keyw)
            keyw = w;
    }
    for (size_t row = 2; row < r->nelem; row++) {
        if (row > 2)
            fputc('\n', out);
        const ykt_reply *vals = r->elem[row];
        for (size_t i = 0; i < cols->nelem && i < vals->nelem; i++) {
            char buf[64];
            fprintf(out, "%s:", cols->elem[i]->str);
            pad(out, keyw - display_width(cols->elem[i]->str) + 1);
            fprintf(out, "%s\n", cell_text(vals->elem[i], buf, sizeof buf));
        }
    }
}

static void render_table(FILE *out, const ykt_reply *r)
{
    const ykt_reply *cols = r->elem[1];
    size_t ncols = cols->nelem;
    int *width = calloc(ncols ? ncols : 1, sizeof *width);
    if (width == NULL)
        return;
    char buf[64];
    for (size_t i = 0; i < ncols; i++)
        width[i] = display_width(cols->elem[i]->str);
    for (size_t row = 2; row < r->nelem; row++)
        for (size_t i = 0; i < ncols && i < r->elem[row]->nelem; i++) {
            int w = display_width(cell_text(r->elem[row]->elem[i], buf, sizeof buf));
            if (w > width[i])
                width[i] = w;
        }
    for (size_t i = 0; i < ncols; i++) {
        fputs(cols->elem[i]->str, out);
        if (i + 1 < ncols)
            pad(out, width[i] - display_width(cols->elem[i]->str) + 2);
    }
    fputc('\n', out);
    for (size_t row = 2; row < r->nelem; row++) {
        for (size_t i = 0; i < ncols && i < r->elem[row]->nelem; i++) {
            const char *t = cell_text(r->elem[row]->elem[i], buf, sizeof buf);
            fputs(t, out);
            if (i + 1 < ncols)
                pad(out, width[i] - display_width(t) + 2);
        }
        fputc('\n', out);
    }
    if (r->nelem == 2)
        fputs("(none)\n", out);
    free(width);
}

void render_text(FILE *out, const ykt_reply *r)
{
    char buf[64];
    if (is_table(r)) {
        if (strcmp(r->elem[0]->str, "RECORD") == 0)
            render_record(out, r);
        else
            render_table(out, r);
        return;
    }
    if (r->type == YKT_REPLY_ARRAY) {
        for (size_t i = 0; i < r->nelem; i++)
            render_text(out, r->elem[i]);
        return;
    }
    fprintf(out, "%s\n", cell_text(r, buf, sizeof buf));
}

/* ---- help ---- */

#define HELP_WIDTH 79 /* fits an 80-column terminal without the cursor wrapping */

/* Length of the next word of s: up to a space outside brackets, so that an option such as
 * "[--daily CNY|default]" stays on one line; with `grouped` false, up to the next space. */
static size_t help_word_len(const char *s, bool grouped)
{
    int depth = 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (s[n] == ' ' && (depth == 0 || !grouped))
            break;
        if (s[n] == '[')
            depth++;
        else if (s[n] == ']' && depth > 0)
            depth--;
    }
    return n;
}

static int span_width(const char *s, size_t len)
{
    char buf[512];
    if (len >= sizeof buf)
        return (int)len;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return display_width(buf);
}

/* Prints text wrapped at HELP_WIDTH: the first line indented by `first`, the others by
 * `rest`. A bracketed group longer than a line is split at its spaces. */
static void help_wrap(FILE *out, const char *text, int first, int rest)
{
    int indent = first, col = 0;
    const char *p = text;
    while (*p == ' ')
        p++;
    while (*p != '\0') {
        size_t len = help_word_len(p, true);
        int w = span_width(p, len);
        if (rest + w > HELP_WIDTH) {
            len = help_word_len(p, false);
            w = span_width(p, len);
        }
        if (col > 0 && col + 1 + w > HELP_WIDTH) {
            fputc('\n', out);
            col = 0;
            indent = rest;
        }
        if (col == 0) {
            pad(out, indent);
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += w;
        p += len;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static bool is_help_table(const ykt_reply *r)
{
    static const char *const want[] = {"command", "roles", "summary"};
    if (!is_table(r) || strcmp(r->elem[0]->str, "TABLE") != 0 || r->elem[1]->nelem != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (r->elem[1]->elem[i]->str == NULL || strcmp(r->elem[1]->elem[i]->str, want[i]) != 0)
            return false;
    for (size_t row = 2; row < r->nelem; row++) {
        const ykt_reply *cells = r->elem[row];
        if (cells->type != YKT_REPLY_ARRAY || cells->nelem != 3)
            return false;
        for (size_t i = 0; i < 3; i++)
            if (cells->elem[i]->str == NULL)
                return false;
    }
    return true;
}

void render_help(FILE *out, const ykt_reply *r)
{
    /* As a table the usage column is as wide as the longest usage (some are 150 columns):
     * one command per block reads on any terminal. */
    if (!is_help_table(r)) {
        render_text(out, r);
        return;
    }
    for (size_t row = 2; row < r->nelem; row++) {
        const ykt_reply *cells = r->elem[row];
        if (row > 2)
            fputc('\n', out);
        help_wrap(out, cells->elem[0]->str, 0, 8);
        char roles[256];
        snprintf(roles, sizeof roles, "roles: %s", cells->elem[1]->str);
        help_wrap(out, roles, 4, 11);
        help_wrap(out, cells->elem[2]->str, 4, 4);
    }
    if (r->nelem == 2)
        fputs("(none)\n", out);
}

static void json_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (c < 0x20)
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

static void json_value(FILE *out, const ykt_reply *r)
{
    switch (r->type) {
    case YKT_REPLY_INT:
        fprintf(out, "%" PRId64, r->integer);
        break;
    case YKT_REPLY_NULL:
        fputs("null", out);
        break;
    case YKT_REPLY_ARRAY:
        fputc('[', out);
        for (size_t i = 0; i < r->nelem; i++) {
            if (i)
                fputc(',', out);
            json_value(out, r->elem[i]);
        }
        fputc(']', out);
        break;
    default:
        json_string(out, r->str, r->len);
    }
}

static void json_object(FILE *out, const ykt_reply *cols, const ykt_reply *vals)
{
    fputc('{', out);
    for (size_t i = 0; i < cols->nelem && i < vals->nelem; i++) {
        if (i)
            fputc(',', out);
        json_string(out, cols->elem[i]->str, cols->elem[i]->len);
        fputc(':', out);
        json_value(out, vals->elem[i]);
    }
    fputc('}', out);
}

void render_json(FILE *out, const ykt_reply *r)
{
    if (is_table(r)) {
        bool record = strcmp(r->elem[0]->str, "RECORD") == 0 && r->nelem == 3;
        if (record) {
            json_object(out, r->elem[1], r->elem[2]);
        } else {
            fputc('[', out);
            for (size_t row = 2; row < r->nelem; row++) {
                if (row > 2)
                    fputc(',', out);
                json_object(out, r->elem[1], r->elem[row]);
            }
            fputc(']', out);
        }
    } else if (r->type == YKT_REPLY_STATUS) {
        fputs("{\"status\":", out);
        json_string(out, r->str, r->len);
        fputc('}', out);
    } else {
        json_value(out, r);
    }
    fputc('\n', out);
}

static void csv_cell(FILE *out, const ykt_reply *r)
{
    char buf[64];
    const char *t = r->type == YKT_REPLY_NULL ? "" : cell_text(r, buf, sizeof buf);
    if (strpbrk(t, ",\"\r\n") == NULL) {
        fputs(t, out);
        return;
    }
    fputc('"', out);
    for (; *t; t++) {
        if (*t == '"')
            fputc('"', out);
        fputc(*t, out);
    }
    fputc('"', out);
}

void render_csv(FILE *out, const ykt_reply *r)
{
    if (!is_table(r)) {
        render_text(out, r);
        return;
    }
    for (size_t row = 1; row < r->nelem; row++) {
        const ykt_reply *cells = r->elem[row];
        for (size_t i = 0; i < cells->nelem; i++) {
            if (i)
                fputc(',', out);
            csv_cell(out, cells->elem[i]);
        }
        fputs("\r\n", out);
    }
}

void render_json_error(FILE *out, const ykt_reply *r)
{
    /* The first word is the stable code (docs/protocol.md), the rest the message. */
    const char *space = memchr(r->str, ' ', r->len);
    size_t code_len = space ? (size_t)(space - r->str) : r->len;
    const char *msg = space ? space + 1 : r->str + r->len;
    fputs("{\"error\":", out);
    json_string(out, r->str, code_len);
    fputs(",\"message\":", out);
    json_string(out, msg, r->len - (size_t)(msg - r->str));
    fputs("}\n", out);
}
