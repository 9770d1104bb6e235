// libpq on first use: the functions the Swift code calls, resolved from libpq.so.5 with dlopen and dlsym
// the first time any of them is called. They keep libpq's own names and prototypes (so the Swift code
// reads as plain libpq) but are hidden: they resolve the Swift code's calls inside this executable and
// are never seen by the loaded libpq or anything else.
#include "shim.h"
#include "lazy_load.h"

#pragma GCC visibility push(hidden)

#define PQ_FUNCTIONS(X) \
    X(PQlibVersion) X(PQconnectdbParams) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQserverVersion) \
    X(PQtransactionStatus) X(PQsetNoticeProcessor) X(PQexec) X(PQexecParams) X(PQgetResult) X(PQclear) \
    X(PQresultStatus) X(PQresultErrorMessage) X(PQresultErrorField) X(PQntuples) X(PQnfields) X(PQfname) \
    X(PQgetvalue) X(PQgetisnull) X(PQcmdTuples) X(PQputCopyData) X(PQputCopyEnd)

AGENTSHOP_LAZY_LIBRARY(PQ_FUNCTIONS, "libpq", "libpq.so.5", "libpq5")

const char *agentshop_pq_load_error(void) { return loaded() ? NULL : load_error; }

int PQlibVersion(void) { return loaded() ? CALL(PQlibVersion)() : 0; }
PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    return loaded() ? CALL(PQconnectdbParams)(keywords, values, expand_dbname) : NULL;
}
ConnStatusType PQstatus(const PGconn *c) { return loaded() ? CALL(PQstatus)(c) : CONNECTION_BAD; }
char *PQerrorMessage(const PGconn *c) { return loaded() ? CALL(PQerrorMessage)(c) : load_error; }
void PQfinish(PGconn *c) { if (loaded()) CALL(PQfinish)(c); }
int PQserverVersion(const PGconn *c) { return loaded() ? CALL(PQserverVersion)(c) : 0; }
PGTransactionStatusType PQtransactionStatus(const PGconn *c) {
    return loaded() ? CALL(PQtransactionStatus)(c) : PQTRANS_UNKNOWN;
}
PQnoticeProcessor PQsetNoticeProcessor(PGconn *c, PQnoticeProcessor p, void *arg) {
    return loaded() ? CALL(PQsetNoticeProcessor)(c, p, arg) : NULL;
}
PGresult *PQexec(PGconn *c, const char *query) { return loaded() ? CALL(PQexec)(c, query) : NULL; }
PGresult *PQexecParams(PGconn *c, const char *command, int count, const Oid *types, const char *const *values,
                       const int *lengths, const int *formats, int resultFormat) {
    return loaded() ? CALL(PQexecParams)(c, command, count, types, values, lengths, formats, resultFormat) : NULL;
}
PGresult *PQgetResult(PGconn *c) { return loaded() ? CALL(PQgetResult)(c) : NULL; }
void PQclear(PGresult *r) { if (loaded()) CALL(PQclear)(r); }
ExecStatusType PQresultStatus(const PGresult *r) { return loaded() ? CALL(PQresultStatus)(r) : PGRES_FATAL_ERROR; }
char *PQresultErrorMessage(const PGresult *r) { return loaded() ? CALL(PQresultErrorMessage)(r) : load_error; }
char *PQresultErrorField(const PGresult *r, int field) { return loaded() ? CALL(PQresultErrorField)(r, field) : NULL; }
int PQntuples(const PGresult *r) { return loaded() ? CALL(PQntuples)(r) : 0; }
int PQnfields(const PGresult *r) { return loaded() ? CALL(PQnfields)(r) : 0; }
char *PQfname(const PGresult *r, int field) { return loaded() ? CALL(PQfname)(r, field) : NULL; }
char *PQgetvalue(const PGresult *r, int row, int field) { return loaded() ? CALL(PQgetvalue)(r, row, field) : NULL; }
int PQgetisnull(const PGresult *r, int row, int field) { return loaded() ? CALL(PQgetisnull)(r, row, field) : 1; }
char *PQcmdTuples(PGresult *r) { return loaded() ? CALL(PQcmdTuples)(r) : load_error; }
int PQputCopyData(PGconn *c, const char *buffer, int count) { return loaded() ? CALL(PQputCopyData)(c, buffer, count) : -1; }
int PQputCopyEnd(PGconn *c, const char *message) { return loaded() ? CALL(PQputCopyEnd)(c, message) : -1; }
#pragma GCC visibility pop
