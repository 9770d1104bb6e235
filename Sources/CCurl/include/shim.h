#ifndef AGENTSHOP_CCURL_SHIM_H
#define AGENTSHOP_CCURL_SHIM_H
#include <curl/curl.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

// libcurl is not linked: loader.c opens libcurl.so.4 on the first call of any function below (or of
// the curl_* functions declared by <curl/curl.h> that it defines: the ones the Swift code calls) and
// calls through the addresses it resolved. A process that never fetches does not load libcurl and its
// dependency tree (bench/FLOOR_RESULTS.md). Calling any of them when libcurl could not be loaded
// returns an error value (NULL, CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR) instead of crashing.

// NULL when libcurl is loaded (loading it on the first call); otherwise why not, naming the library,
// its soname and the Debian package to install.
const char *agentshop_curl_load_error(void);

// curl_easy_setopt / getinfo / curl_multi_setopt are variadic: typed wrappers Swift can call.
CURLcode agentshop_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode agentshop_easy_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode agentshop_easy_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode agentshop_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
CURLcode agentshop_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v);
CURLcode agentshop_easy_setopt_write_callback(CURL *h, CURLoption o, size_t (*cb)(char *, size_t, size_t, void *));
CURLcode agentshop_easy_setopt_read_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *));
CURLcode agentshop_easy_setopt_xferinfo_callback(CURL *h, int (*cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t));
CURLcode agentshop_easy_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode agentshop_easy_getinfo_double(CURL *h, CURLINFO i, double *v);
CURLcode agentshop_easy_getinfo_string(CURL *h, CURLINFO i, char **v);
CURLcode agentshop_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v);
CURLcode agentshop_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v);
CURLMcode agentshop_multi_setopt_long(CURLM *m, CURLMoption o, long v);
// The connected-address guard: libcurl asks this callback for every socket it opens, with the
// resolved address it is about to connect to; CURL_SOCKET_BAD refuses it.
CURLcode agentshop_easy_setopt_opensocket_callback(CURL *h, curl_socket_t (*cb)(void *, curlsocktype, struct curl_sockaddr *));
// Copies the IP address of `a` (4 bytes for IPv4, 16 for IPv6) into `out`; returns how many, or 0
// for another family. In C because the sockaddr behind `a` is longer than `struct sockaddr`.
static inline int agentshop_curl_sockaddr_ip(const struct curl_sockaddr *a, unsigned char out[16]) {
    if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
        memcpy(out, &((const struct sockaddr_in *)&a->addr)->sin_addr, 4);
        return 4;
    }
    if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
        memcpy(out, &((const struct sockaddr_in6 *)&a->addr)->sin6_addr, 16);
        return 16;
    }
    return 0;
}
// What libcurl does without an open-socket callback.
static inline curl_socket_t agentshop_curl_open_socket(const struct curl_sockaddr *a) {
    return socket(a->family, a->socktype, a->protocol);
}
static inline curl_socket_t agentshop_curl_socket_bad(void) { return CURL_SOCKET_BAD; }
// CURLVERSION_NOW is a macro Swift cannot see.
static inline curl_version_info_data *agentshop_curl_version_info(void) { return curl_version_info(CURLVERSION_NOW); }
#endif
