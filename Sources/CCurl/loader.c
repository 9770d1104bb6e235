// libcurl on first use: the functions the Swift code calls, resolved from libcurl.so.4 with dlopen and
// dlsym the first time any of them is called. The curl_* functions defined here keep libcurl's own
// names and prototypes (so the Swift code reads as plain libcurl) but are hidden: they resolve the
// Swift code's calls inside this executable and are never seen by the loaded libcurl or anything else.
#define CURL_DISABLE_TYPECHECK  // curl.h's type-checking macros would wrap the variadic calls below
#include "shim.h"
#include "lazy_load.h"

#pragma GCC visibility push(hidden)

#define CURL_FUNCTIONS(X) \
    X(curl_global_init) X(curl_version_info) X(curl_easy_strerror) \
    X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_perform) X(curl_easy_setopt) X(curl_easy_getinfo) \
    X(curl_slist_append) X(curl_slist_free_all) \
    X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_setopt) X(curl_multi_add_handle) \
    X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_wakeup) X(curl_multi_info_read)

AGENTSHOP_LAZY_LIBRARY(CURL_FUNCTIONS, "libcurl", "libcurl.so.4", "libcurl4")

const char *agentshop_curl_load_error(void) { return loaded() ? NULL : load_error; }

CURLcode curl_global_init(long flags) { return loaded() ? CALL(curl_global_init)(flags) : CURLE_FAILED_INIT; }
curl_version_info_data *curl_version_info(CURLversion v) { return loaded() ? CALL(curl_version_info)(v) : NULL; }
const char *curl_easy_strerror(CURLcode code) {
    return loaded() ? CALL(curl_easy_strerror)(code) : "libcurl could not be loaded";
}
CURL *curl_easy_init(void) { return loaded() ? CALL(curl_easy_init)() : NULL; }
void curl_easy_cleanup(CURL *h) { if (loaded()) CALL(curl_easy_cleanup)(h); }
CURLcode curl_easy_perform(CURL *h) { return loaded() ? CALL(curl_easy_perform)(h) : CURLE_FAILED_INIT; }
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s) {
    return loaded() ? CALL(curl_slist_append)(list, s) : NULL;
}
void curl_slist_free_all(struct curl_slist *list) { if (loaded()) CALL(curl_slist_free_all)(list); }
CURLM *curl_multi_init(void) { return loaded() ? CALL(curl_multi_init)() : NULL; }
CURLMcode curl_multi_cleanup(CURLM *m) { return loaded() ? CALL(curl_multi_cleanup)(m) : CURLM_INTERNAL_ERROR; }
CURLMcode curl_multi_add_handle(CURLM *m, CURL *h) {
    return loaded() ? CALL(curl_multi_add_handle)(m, h) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h) {
    return loaded() ? CALL(curl_multi_remove_handle)(m, h) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_perform(CURLM *m, int *running) {
    return loaded() ? CALL(curl_multi_perform)(m, running) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int count, int timeout, int *ready) {
    return loaded() ? CALL(curl_multi_poll)(m, extra, count, timeout, ready) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_wakeup(CURLM *m) { return loaded() ? CALL(curl_multi_wakeup)(m) : CURLM_INTERNAL_ERROR; }
CURLMsg *curl_multi_info_read(CURLM *m, int *left) { return loaded() ? CALL(curl_multi_info_read)(m, left) : NULL; }

// The typed wrappers of the variadic functions.
#define SETOPT(h, o, v) (loaded() ? CALL(curl_easy_setopt)(h, o, v) : CURLE_FAILED_INIT)
#define GETINFO(h, i, v) (loaded() ? CALL(curl_easy_getinfo)(h, i, v) : CURLE_FAILED_INIT)
CURLcode agentshop_easy_setopt_long(CURL *h, CURLoption o, long v) { return SETOPT(h, o, v); }
CURLcode agentshop_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return SETOPT(h, o, v); }
CURLcode agentshop_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return SETOPT(h, o, v); }
CURLcode agentshop_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return SETOPT(h, o, v); }
CURLcode agentshop_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return SETOPT(h, o, v); }
CURLcode agentshop_easy_setopt_write_callback(CURL *h, CURLoption o, size_t (*cb)(char *, size_t, size_t, void *)) {
    return SETOPT(h, o, cb);
}
CURLcode agentshop_easy_setopt_read_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) {
    return SETOPT(h, CURLOPT_READFUNCTION, cb);
}
CURLcode agentshop_easy_setopt_xferinfo_callback(CURL *h, int (*cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t)) {
    return SETOPT(h, CURLOPT_XFERINFOFUNCTION, cb);
}
CURLcode agentshop_easy_setopt_opensocket_callback(CURL *h, curl_socket_t (*cb)(void *, curlsocktype, struct curl_sockaddr *)) {
    return SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, cb);
}
CURLcode agentshop_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return GETINFO(h, i, v); }
CURLcode agentshop_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return GETINFO(h, i, v); }
CURLcode agentshop_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return GETINFO(h, i, v); }
CURLcode agentshop_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return GETINFO(h, i, v); }
CURLcode agentshop_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return GETINFO(h, i, v); }
CURLMcode agentshop_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return loaded() ? CALL(curl_multi_setopt)(m, o, v) : CURLM_INTERNAL_ERROR;
}
#pragma GCC visibility pop
