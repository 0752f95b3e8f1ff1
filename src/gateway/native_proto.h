/*
 * native_proto.h -- what a client of the gateway's native protocol needs:
 * the handshake's names and version, the clock skew the gateway allows and
 * the credential text (gateway.h draws the protocol).
 *
 * Includes no libuv or LMDB header: libmist (client/mist.c) includes it,
 * and gateway.h includes it for the agent's side.
 */
#ifndef MIST_GATEWAY_NATIVE_PROTO_H_INCLUDED
#define MIST_GATEWAY_NATIVE_PROTO_H_INCLUDED

#include <stdint.h>

#define GATEWAY_PROTOCOL "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"
#define GATEWAY_PROLOGUE "mist/client/1"
#define GATEWAY_VERSION 1
#define GATEWAY_SKEW_MS 120000
/** "mist1:" + 16 hex + ":" + 64 hex */
#define CRED_TEXT_LEN 87

/** Parses "mist1:<id hex>:<secret hex>".  0 or MIST_EINVAL. */
int cred_parse(const char *text, uint64_t *id, uint8_t secret[32]);
/** Formats a credential (out: CRED_TEXT_LEN + 1 bytes). */
void cred_format(char *out, uint64_t id, const uint8_t secret[32]);

#endif
