#ifndef AGENTSHOP_CLIBPQ_SHIM_H
#define AGENTSHOP_CLIBPQ_SHIM_H
#include <libpq-fe.h>

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
