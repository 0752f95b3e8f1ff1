/*
 * noise.h -- the Noise Protocol Framework (revision 34) for the cipher suite
 * 25519_ChaChaPoly_BLAKE2b, on libsodium primitives.
 *
 * mist uses two patterns: XXpsk3 for node links (mutual authentication by
 * static keys, admission by the cluster key as PSK) and, for clients, a
 * one-round-trip pattern.  The engine below is generic -- every fundamental,
 * deferred and one-way pattern of the specification, with pskN modifiers --
 * because a generic engine replayed against every published vector is a much
 * stronger proof of correctness than two hand-written state machines.
 *
 * Ownership: struct noise_hs and struct noise_cipher are caller storage;
 * nothing here allocates.  noise_hs_wipe() zeroes key material.
 */
#ifndef MIST_NET_NOISE_H_INCLUDED
#define MIST_NET_NOISE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_DHLEN 32
#define NOISE_HASHLEN 64
#define NOISE_KEYLEN 32
#define NOISE_TAGLEN 16
#define NOISE_PSKLEN 32
/** The specification's bound on any Noise message. */
#define NOISE_MAX_MSG 65535
#define NOISE_MAX_MSGS 8
#define NOISE_MAX_TOKENS 8

struct noise_cipher {
	uint8_t k[NOISE_KEYLEN];
	uint64_t n;
	bool has_key;
};

/** Encrypts @a len bytes into @a out (len + 16 bytes).  0 or MIST_E*. */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad,
			 size_t adlen, const uint8_t *pt, size_t len,
			 uint8_t *out);
/** Decrypts @a len bytes (>= 16) into @a out (len - 16).  0 or MIST_EAUTH. */
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad,
			 size_t adlen, const uint8_t *ct, size_t len,
			 uint8_t *out);
/** Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
void noise_cipher_rekey(struct noise_cipher *c);

enum noise_token {
	NOISE_TOK_E, NOISE_TOK_S, NOISE_TOK_EE, NOISE_TOK_ES, NOISE_TOK_SE,
	NOISE_TOK_SS, NOISE_TOK_PSK
};

struct noise_hs {
	/* the pattern, parsed */
	uint8_t msgs[NOISE_MAX_MSGS][NOISE_MAX_TOKENS];
	uint8_t ntok[NOISE_MAX_MSGS];
	int nmsgs;
	bool psk_mode;
	bool one_way;
	/* progress */
	int idx;
	bool initiator;
	/* symmetric state */
	uint8_t ck[NOISE_HASHLEN];
	uint8_t h[NOISE_HASHLEN];
	struct noise_cipher cs;
	/* keys */
	uint8_t s_priv[32], s_pub[32];
	uint8_t e_priv[32], e_pub[32];
	uint8_t rs[32], re[32];
	uint8_t psk[NOISE_PSKLEN];
	bool has_s, has_e, has_rs, has_re, has_psk, fixed_e;
};

/**
 * Starts a handshake for @a protocol (e.g. "Noise_XXpsk3_25519_ChaChaPoly_
 * BLAKE2b").  @a s_priv: our static private key or NULL; @a rs: the peer's
 * static public key known in advance (K/N-side patterns) or NULL; @a psk:
 * 32 bytes or NULL.  Returns MIST_EINVAL for an unknown pattern or when a
 * key the pattern needs is missing.
 */
int noise_hs_init(struct noise_hs *hs, const char *protocol, bool initiator,
		  const uint8_t *prologue, size_t prologue_len,
		  const uint8_t *s_priv, const uint8_t *rs, const uint8_t *psk);
/** Uses @a e_priv as the next ephemeral key instead of a random one (tests). */
void noise_hs_fix_ephemeral(struct noise_hs *hs, const uint8_t *e_priv);
/** True when it is our turn to write. */
bool noise_hs_is_my_turn(const struct noise_hs *hs);
bool noise_hs_is_done(const struct noise_hs *hs);
/**
 * Writes the next handshake message carrying @a payload into @a out (capacity
 * @a cap); stores its size in @a outlen.  0, MIST_EINVAL (not our turn or
 * done), MIST_E2BIG (too large).
 */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t plen,
		   uint8_t *out, size_t cap, size_t *outlen);
/**
 * Reads the next handshake message; the payload goes to @a payload (capacity
 * @a cap).  0, MIST_EPROTO (malformed), MIST_EAUTH (decryption failed: wrong
 * key or tampering), MIST_E2BIG.
 */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len,
		  uint8_t *payload, size_t cap, size_t *plen);
/**
 * After the last message: the transport ciphers, for sending and for
 * receiving (for one-way patterns the responder's @a send is unused).
 */
void noise_hs_split(struct noise_hs *hs, struct noise_cipher *send,
		    struct noise_cipher *recv);
/** The handshake hash (64 bytes), valid after the last message. */
const uint8_t *noise_hs_hash(const struct noise_hs *hs);
void noise_hs_wipe(struct noise_hs *hs);

/** Fresh X25519 key pair from libsodium's CSPRNG. */
void noise_keypair(uint8_t priv[32], uint8_t pub[32]);
/** The public key of @a priv. */
void noise_pubkey(uint8_t pub[32], const uint8_t priv[32]);

#endif
