#ifndef AGENTSHOP_COPENSSL_SHIM_H
#define AGENTSHOP_COPENSSL_SHIM_H
// libcrypto only (no TLS): digests, HMAC and PBKDF2, with SHA-NI / AVX2 code paths chosen at run time.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#endif
