#ifndef AGENTSHOP_CLIBPQ_SHIM_H
#define AGENTSHOP_CLIBPQ_SHIM_H
// Through /usr/include: libpq-fe.h finds its neighbours (postgres_ext.h) by quoted includes.
#include <postgresql/libpq-fe.h>

// libpq is not linked: loader.c opens libpq.so.5 on the first call of a PQ* function the Swift code
// calls (it defines them, hidden, with libpq's names and prototypes) and calls through the addresses it
// resolved, so a process that never talks to PostgreSQL does not load libpq and its dependency tree
// (bench/FLOOR_RESULTS.md). When libpq could not be loaded they return error values (NULL,
// CONNECTION_BAD, PGRES_FATAL_ERROR, -1, 0) instead of crashing.

// NULL when libpq is loaded (loading it on the first call); otherwise why not, naming the library,
// its soname and the Debian package to install.
const char *agentshop_pq_load_error(void);

// The PG_DIAG_* field codes are character macros; these keep their meaning explicit in Swift.
static inline int agentshop_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int agentshop_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int agentshop_pg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int agentshop_pg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }

// libpq prints server notices (NOTICE: relation already exists, skipping) to stderr by default.
static void agentshop_pg_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void agentshop_pg_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, agentshop_pg_ignore_notice, NULL);
}
#endif
