/*
 * identity.h -- who a node is (its key pair) and what admits it (the
 * cluster key).
 *
 * Node identity is a key, not an address: an X25519 key pair created on
 * first start in DATA/node.key (mode 0600, the private key in hex).  The
 * node id is the first 8 bytes of BLAKE2b-256(public key), big-endian: short
 * enough to print and to key tables, and 2^64 ids make an accidental
 * collision in a cluster of thousands vanishingly unlikely (~n^2/2^65).
 *
 * The cluster key (`mist keygen`) is 32 random bytes, written as 64 hex
 * digits on one line; it is the PSK of every link handshake.
 */
#ifndef MIST_NET_IDENTITY_H_INCLUDED
#define MIST_NET_IDENTITY_H_INCLUDED

#include <stdint.h>

#define IDENTITY_KEY_FILE "node.key"

struct identity {
	uint8_t priv[32];
	uint8_t pub[32];
	uint64_t node;
};

/** The node id of public key @a pub. */
uint64_t identity_node_id(const uint8_t pub[32]);
/** Formats @a node as 16 hex digits into @a out (17 bytes). */
void identity_node_str(char out[17], uint64_t node);
/** Parses 16 hex digits.  0 or MIST_EINVAL. */
int identity_node_parse(const char *s, uint64_t *node);
/**
 * Loads DIR/node.key, or creates it (mode 0600) with a fresh key pair if it
 * does not exist.  Creates DIR (0700) if needed.  0, MIST_EIO, MIST_EPROTO.
 */
int identity_load_or_create(const char *dir, struct identity *id);
/** A fresh identity that is never written anywhere (command-line tools). */
void identity_ephemeral(struct identity *id);

/** Reads a cluster key file.  0, MIST_EIO, MIST_EPROTO (malformed). */
int cluster_key_read(const char *path, uint8_t key[32]);
/** Formats a fresh random cluster key as 64 hex digits (65 bytes). */
void cluster_key_generate(char out[65]);

#endif
