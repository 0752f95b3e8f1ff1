/*
 * keyring.h -- the cluster's keys, and sealing of gossip packets.
 *
 * A keyring holds up to KEYRING_MAX cluster keys; one is primary.  Gossip
 * packets are sealed with the primary key and opened with whichever key
 * the packet's key id names, so a cluster can rotate keys while running
 * (install everywhere, then use, then remove the old one -- Serf's model).
 *
 *   sealed packet:
 *   +--------+---------------------+==============================+
 *   | key id |   nonce (24 bytes)  | XChaCha20-Poly1305(payload)  |
 *   +--------+---------------------+==============================+
 *     1 byte    random                ciphertext + 16-byte tag
 *   AD = "mist/gossip/1"
 *
 * The AEAD key is not the cluster key itself but a subkey derived from it
 * (BLAKE2b keyed with the cluster key over "mist gossip key"), so the same
 * secret never serves two algorithms (it is also the links' Noise PSK).
 * Random 192-bit nonces need no state and cannot repeat in practice.
 * The key id is the first byte of another derivation; ids may collide,
 * so opening tries every key with the packet's id.
 */
#ifndef MIST_NET_KEYRING_H_INCLUDED
#define MIST_NET_KEYRING_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define KEYRING_MAX 8
#define GOSSIP_SEAL_OVERHEAD (1 + 24 + 16)

struct keyring {
	uint8_t keys[KEYRING_MAX][32];	  /* cluster keys */
	uint8_t sealing[KEYRING_MAX][32]; /* derived AEAD keys */
	uint8_t ids[KEYRING_MAX];
	int n;
	int primary;
};

void keyring_init(struct keyring *k, const uint8_t key[32]);
/** Adds @a key (no-op if present).  0 or MIST_E2BIG (full). */
int keyring_install(struct keyring *k, const uint8_t key[32]);
/** Makes @a key primary.  0 or MIST_ENOTFOUND. */
int keyring_use(struct keyring *k, const uint8_t key[32]);
/** Removes @a key.  0, MIST_ENOTFOUND, MIST_EINVAL (it is the primary). */
int keyring_remove(struct keyring *k, const uint8_t key[32]);
const uint8_t *keyring_primary(const struct keyring *k);

/** Seals @a n bytes into @a out (n + GOSSIP_SEAL_OVERHEAD bytes). */
void gossip_seal(const struct keyring *k, const uint8_t *pt, size_t n,
		 uint8_t *out);
/** Opens a sealed packet into @a out (len - overhead bytes).  0 or MIST_EAUTH. */
int gossip_open(const struct keyring *k, const uint8_t *p, size_t len,
		uint8_t *out, size_t *outlen);

#endif
