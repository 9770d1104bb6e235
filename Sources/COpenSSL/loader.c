// libcrypto on first use: the functions the Swift code calls, resolved from libcrypto.so.3 with dlopen
// and dlsym the first time any of them is called (the same scheme as CLibPQ's loader). They keep
// OpenSSL's own names and prototypes but are hidden: they resolve Lake's calls inside this executable
// and are never seen by a libcrypto that libcurl's TLS loads, which keeps its own.
#include "shim.h"
#include "lazy_load.h"

#pragma GCC visibility push(hidden)

#define CRYPTO_FUNCTIONS(X) \
    X(EVP_MD_fetch) X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_MD_CTX_copy_ex) X(EVP_DigestInit_ex) \
    X(EVP_DigestUpdate) X(EVP_DigestFinal_ex) X(HMAC) X(PKCS5_PBKDF2_HMAC) X(CRYPTO_memcmp)

AGENTSHOP_LAZY_LIBRARY(CRYPTO_FUNCTIONS, "libcrypto", "libcrypto.so.3", "libssl3")

const char *agentshop_crypto_load_error(void) { return loaded() ? NULL : load_error; }

EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *ctx, const char *algorithm, const char *properties) {
    return loaded() ? CALL(EVP_MD_fetch)(ctx, algorithm, properties) : NULL;
}
EVP_MD_CTX *EVP_MD_CTX_new(void) { return loaded() ? CALL(EVP_MD_CTX_new)() : NULL; }
void EVP_MD_CTX_free(EVP_MD_CTX *ctx) { if (loaded()) CALL(EVP_MD_CTX_free)(ctx); }
int EVP_MD_CTX_copy_ex(EVP_MD_CTX *out, const EVP_MD_CTX *in) { return loaded() ? CALL(EVP_MD_CTX_copy_ex)(out, in) : 0; }
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl) {
    return loaded() ? CALL(EVP_DigestInit_ex)(ctx, type, impl) : 0;
}
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *data, size_t count) {
    return loaded() ? CALL(EVP_DigestUpdate)(ctx, data, count) : 0;
}
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *size) {
    return loaded() ? CALL(EVP_DigestFinal_ex)(ctx, md, size) : 0;
}
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_length, const unsigned char *data, size_t data_length,
                    unsigned char *md_out, unsigned int *md_length) {
    return loaded() ? CALL(HMAC)(md, key, key_length, data, data_length, md_out, md_length) : NULL;
}
int PKCS5_PBKDF2_HMAC(const char *password, int password_length, const unsigned char *salt, int salt_length,
                      int iterations, const EVP_MD *digest, int key_length, unsigned char *out) {
    return loaded() ? CALL(PKCS5_PBKDF2_HMAC)(password, password_length, salt, salt_length, iterations, digest,
                                               key_length, out)
                    : 0;
}
int CRYPTO_memcmp(const void *a, const void *b, size_t length) {
    return loaded() ? CALL(CRYPTO_memcmp)(a, b, length) : 1;
}
#pragma GCC visibility pop
