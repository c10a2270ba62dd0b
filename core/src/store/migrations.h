/*
 * The core schema, one SQL script per version. Version N is ykt_migrations[N-1]; a script
 * is never edited once released — a change is a new version appended at the end.
 */
#ifndef YKT_MIGRATIONS_H
#define YKT_MIGRATIONS_H

extern const char *const ykt_migrations[];
extern const int ykt_migrations_count;

#endif
