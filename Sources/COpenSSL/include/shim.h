#ifndef AGENTSHOP_COPENSSL_SHIM_H
#define AGENTSHOP_COPENSSL_SHIM_H
// libcrypto only (no TLS): digests, HMAC and PBKDF2, with SHA-NI / AVX2 code paths chosen at run time.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

// libcrypto is not linked: loader.c opens libcrypto.so.3 on the first call of a function the Swift code
// calls (it defines them, hidden, with OpenSSL's names and prototypes) and calls through the addresses it
// resolved, so a command that never hashes does not map and relocate libcrypto (bench/FLOOR_RESULTS.md).
// When libcrypto could not be loaded they return error values (NULL, 0); the Swift side stops with
// agentshop_crypto_load_error()'s sentence.

// NULL when libcrypto is loaded (loading it on the first call); otherwise why not, naming the library,
// its soname and the Debian package to install.
const char *agentshop_crypto_load_error(void);
#endif
