/*
 * Prints admin replies for people (aligned tables, "name: value" records) or as JSON.
 * Table replies are arrays: "TABLE" or "RECORD", the column names, then the rows.
 */
#ifndef YKTCTL_RENDER_H
#define YKTCTL_RENDER_H

#include <stdio.h>

#include "resp.h"

void render_text(FILE *out, const ykt_reply *r);
void render_json(FILE *out, const ykt_reply *r);
/* Tables and records as CSV (RFC 4180, header row first), e.g. PIN mailers for a printer. */
void render_csv(FILE *out, const ykt_reply *r);
/* The `help` table for people: each command's usage, then its roles and summary indented
 * below it, wrapped to fit an 80-column terminal. Other replies as render_text. */
void render_help(FILE *out, const ykt_reply *r);
/* An error reply "CODE message" as {"error":"CODE","message":"..."} and a newline. */
void render_json_error(FILE *out, const ykt_reply *r);
/* Terminal columns a UTF-8 string takes (CJK characters take two). */
int display_width(const char *s);

#endif
