/*
 * noise.c -- Noise handshakes and transport ciphers.
 *
 * Follows the specification (noiseprotocol.org, revision 34) section by
 * section: CipherState (5.1), SymmetricState (5.2), HandshakeState (5.3),
 * pre-messages (7.1), psk modifiers (9): with a psk, every "e" token also
 * mixes the ephemeral public key into the chaining key.
 *
 * Primitives: X25519 is crypto_scalarmult (which refuses an all-zero result
 * from a low-order point -- allowed by the specification, and we treat it as
 * an authentication failure); ChaChaPoly is the IETF construction with the
 * nonce as 32 zero bits then the 64-bit counter little-endian; BLAKE2b is
 * crypto_generichash with 64-byte output; HMAC is built by hand over BLAKE2b
 * with its 128-byte block (RFC 2104), HKDF as the specification's 5.2.
 */
#include "config.h"
#include "net/noise.h"
#include "mist.h"

#include <sodium.h>
#include <string.h>

/* ---------------------------------------------------------------- hashing */

#define BLAKE2B_BLOCKLEN 128

static void
noise_hash2(uint8_t out[NOISE_HASHLEN], const uint8_t *a, size_t alen,
	    const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, NOISE_HASHLEN);
}

static void
noise_hmac(uint8_t out[NOISE_HASHLEN], const uint8_t *key, size_t keylen,
	   const uint8_t *data, size_t len)
{
	uint8_t k[BLAKE2B_BLOCKLEN] = {0}, pad[BLAKE2B_BLOCKLEN];
	uint8_t inner[NOISE_HASHLEN];
	memcpy(k, key, keylen); /* keylen <= HASHLEN < block */
	for (int i = 0; i < BLAKE2B_BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x36;
	noise_hash2(inner, pad, sizeof(pad), data, len);
	for (int i = 0; i < BLAKE2B_BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x5c;
	noise_hash2(out, pad, sizeof(pad), inner, sizeof(inner));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
}

/* HKDF(ck, ikm) -> n outputs of HASHLEN (n = 2 or 3). */
static void
noise_hkdf(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t len,
	   int n, uint8_t *o1, uint8_t *o2, uint8_t *o3)
{
	uint8_t tk[NOISE_HASHLEN], in[NOISE_HASHLEN + 1];
	noise_hmac(tk, ck, NOISE_HASHLEN, ikm, len);
	in[0] = 1;
	noise_hmac(o1, tk, sizeof(tk), in, 1);
	memcpy(in, o1, NOISE_HASHLEN);
	in[NOISE_HASHLEN] = 2;
	noise_hmac(o2, tk, sizeof(tk), in, sizeof(in));
	if (n == 3) {
		memcpy(in, o2, NOISE_HASHLEN);
		in[NOISE_HASHLEN] = 3;
		noise_hmac(o3, tk, sizeof(tk), in, sizeof(in));
	}
	sodium_memzero(tk, sizeof(tk));
}

/* ----------------------------------------------------------- CipherState */

static void
noise_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int
noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
		     const uint8_t *pt, size_t len, uint8_t *out)
{
	if (!c->has_key) {
		memmove(out, pt, len);
		return 0;
	}
	/* 2^64-1 is reserved for rekey; reaching it means we must stop. */
	if (c->n == UINT64_MAX)
		return MIST_ECLOSED;
	uint8_t nonce[12];
	noise_nonce(nonce, c->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad,
						  adlen, NULL, nonce, c->k);
	c->n++;
	return 0;
}

int
noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
		     const uint8_t *ct, size_t len, uint8_t *out)
{
	if (!c->has_key) {
		memmove(out, ct, len);
		return 0;
	}
	if (len < NOISE_TAGLEN || c->n == UINT64_MAX)
		return MIST_EAUTH;
	uint8_t nonce[12];
	noise_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len,
						      ad, adlen, nonce,
						      c->k) != 0)
		return MIST_EAUTH;
	c->n++;
	return 0;
}

void
noise_cipher_rekey(struct noise_cipher *c)
{
	uint8_t zeros[NOISE_KEYLEN] = {0}, out[NOISE_KEYLEN + NOISE_TAGLEN];
	uint8_t nonce[12];
	noise_nonce(nonce, UINT64_MAX);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros,
						  sizeof(zeros), NULL, 0, NULL,
						  nonce, c->k);
	memcpy(c->k, out, NOISE_KEYLEN);
	sodium_memzero(out, sizeof(out));
}

/* -------------------------------------------------------- SymmetricState */

static void
noise_mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	noise_hash2(hs->h, hs->h, NOISE_HASHLEN, data, len);
}

static void
noise_set_key(struct noise_cipher *c, const uint8_t *k)
{
	memcpy(c->k, k, NOISE_KEYLEN);
	c->n = 0;
	c->has_key = true;
}

static void
noise_mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASHLEN], k[NOISE_HASHLEN];
	noise_hkdf(hs->ck, ikm, len, 2, ck, k, NULL);
	memcpy(hs->ck, ck, NOISE_HASHLEN);
	noise_set_key(&hs->cs, k);
	sodium_memzero(k, sizeof(k));
}

static void
noise_mix_key_and_hash(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASHLEN], th[NOISE_HASHLEN], k[NOISE_HASHLEN];
	noise_hkdf(hs->ck, ikm, len, 3, ck, th, k);
	memcpy(hs->ck, ck, NOISE_HASHLEN);
	noise_mix_hash(hs, th, NOISE_HASHLEN);
	noise_set_key(&hs->cs, k);
	sodium_memzero(k, sizeof(k));
}

static int
noise_encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len,
		       uint8_t *out)
{
	int rc = noise_cipher_encrypt(&hs->cs, hs->h, NOISE_HASHLEN, pt, len,
				      out);
	if (rc != 0)
		return rc;
	noise_mix_hash(hs, out, len + (hs->cs.has_key ? NOISE_TAGLEN : 0));
	return 0;
}

static int
noise_decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len,
		       uint8_t *out)
{
	uint8_t h[NOISE_HASHLEN];
	memcpy(h, hs->h, NOISE_HASHLEN);
	noise_mix_hash(hs, ct, len);
	return noise_cipher_decrypt(&hs->cs, h, NOISE_HASHLEN, ct, len, out);
}

/* ------------------------------------------------------------- patterns */

/*
 * The patterns of the specification, sections 7.4, 7.5 and 18 (deferred):
 * pre-messages of initiator and responder, then the messages separated by
 * '|', tokens separated by spaces.
 */
struct noise_pattern_def {
	const char *name;
	const char *pre_i;
	const char *pre_r;
	const char *msgs;
};

static const struct noise_pattern_def noise_patterns[] = {
	{"N", "", "s", "e es"},
	{"K", "s", "s", "e es ss"},
	{"X", "", "s", "e es s ss"},
	{"NN", "", "", "e|e ee"},
	{"NK", "", "s", "e es|e ee"},
	{"NX", "", "", "e|e ee s es"},
	{"XN", "", "", "e|e ee|s se"},
	{"XK", "", "s", "e es|e ee|s se"},
	{"XX", "", "", "e|e ee s es|s se"},
	{"KN", "s", "", "e|e ee se"},
	{"KK", "s", "s", "e es ss|e ee se"},
	{"KX", "s", "", "e|e ee se s es"},
	{"IN", "", "", "e s|e ee se"},
	{"IK", "", "s", "e es s ss|e ee se"},
	{"IX", "", "", "e s|e ee se s es"},
	{"NK1", "", "s", "e|e ee es"},
	{"NX1", "", "", "e|e ee s|es"},
	{"X1N", "", "", "e|e ee|s|se"},
	{"X1K", "", "s", "e es|e ee|s|se"},
	{"XK1", "", "s", "e|e ee es|s se"},
	{"X1K1", "", "s", "e|e ee es|s|se"},
	{"X1X", "", "", "e|e ee s es|s|se"},
	{"XX1", "", "", "e|e ee s|es s se"},
	{"X1X1", "", "", "e|e ee s|es s|se"},
	{"K1N", "s", "", "e|e ee|se"},
	{"K1K", "s", "s", "e es|e ee|se"},
	{"KK1", "s", "s", "e|e ee se es"},
	{"K1K1", "s", "s", "e|e ee es|se"},
	{"K1X", "s", "", "e|e ee s es|se"},
	{"KX1", "s", "", "e|e ee se s|es"},
	{"K1X1", "s", "", "e|e ee s|se es"},
	{"I1N", "", "", "e s|e ee|se"},
	{"I1K", "", "s", "e es s|e ee|se"},
	{"IK1", "", "s", "e s|e ee se es"},
	{"I1K1", "", "s", "e s|e ee es|se"},
	{"I1X", "", "", "e s|e ee s es|se"},
	{"IX1", "", "", "e s|e ee se s|es"},
	{"I1X1", "", "", "e s|e ee s|se es"},
};

static int
noise_token_parse(const char *t, size_t n)
{
	static const char *const names[] = {"e", "s", "ee", "es", "se", "ss",
					    "psk"};
	for (int i = 0; i < 7; i++)
		if (strlen(names[i]) == n && memcmp(names[i], t, n) == 0)
			return i;
	return -1;
}

static int
noise_pattern_parse(struct noise_hs *hs, const char *msgs)
{
	int m = 0;
	const char *p = msgs;
	hs->nmsgs = 0;
	memset(hs->ntok, 0, sizeof(hs->ntok));
	while (*p) {
		const char *q = p;
		while (*q && *q != ' ' && *q != '|')
			q++;
		int t = noise_token_parse(p, (size_t)(q - p));
		if (t < 0 || hs->ntok[m] >= NOISE_MAX_TOKENS)
			return MIST_EINVAL;
		hs->msgs[m][hs->ntok[m]++] = (uint8_t)t;
		if (*q == '|') {
			if (++m >= NOISE_MAX_MSGS)
				return MIST_EINVAL;
		}
		p = *q ? q + 1 : q;
	}
	hs->nmsgs = m + 1;
	return 0;
}

/* Inserts a psk token: psk0 first in message 0, pskN last in message N-1. */
static int
noise_add_psk(struct noise_hs *hs, int pos)
{
	int m = pos == 0 ? 0 : pos - 1;
	if (m >= hs->nmsgs || hs->ntok[m] >= NOISE_MAX_TOKENS)
		return MIST_EINVAL;
	if (pos == 0) {
		memmove(&hs->msgs[0][1], &hs->msgs[0][0], hs->ntok[0]);
		hs->msgs[0][0] = NOISE_TOK_PSK;
	} else {
		hs->msgs[m][hs->ntok[m]] = NOISE_TOK_PSK;
	}
	hs->ntok[m]++;
	return 0;
}

/* ------------------------------------------------------- HandshakeState */

static void
noise_ephemeral_new(struct noise_hs *hs)
{
	if (!hs->fixed_e)
		randombytes_buf(hs->e_priv, 32);
	noise_pubkey(hs->e_pub, hs->e_priv);
	hs->has_e = true;
}

void
noise_keypair(uint8_t priv[32], uint8_t pub[32])
{
	randombytes_buf(priv, 32);
	noise_pubkey(pub, priv);
}

void
noise_pubkey(uint8_t pub[32], const uint8_t priv[32])
{
	crypto_scalarmult_base(pub, priv);
}

int
noise_hs_init(struct noise_hs *hs, const char *protocol, bool initiator,
	      const uint8_t *prologue, size_t prologue_len,
	      const uint8_t *s_priv, const uint8_t *rs, const uint8_t *psk)
{
	static const char prefix[] = "Noise_";
	static const char suffix[] = "_25519_ChaChaPoly_BLAKE2b";
	memset(hs, 0, sizeof(*hs));
	size_t len = strlen(protocol);
	if (len <= strlen(prefix) + strlen(suffix) ||
	    strncmp(protocol, prefix, strlen(prefix)) != 0 ||
	    strcmp(protocol + len - strlen(suffix), suffix) != 0)
		return MIST_EINVAL;
	char name[32];
	size_t nlen = len - strlen(prefix) - strlen(suffix);
	if (nlen >= sizeof(name))
		return MIST_EINVAL;
	memcpy(name, protocol + strlen(prefix), nlen);
	name[nlen] = '\0';
	int psk_pos = -1;
	char *mod = strstr(name, "psk");
	if (mod != NULL) {
		if (mod[3] < '0' || mod[3] > '9' || mod[4] != '\0')
			return MIST_EINVAL;
		psk_pos = mod[3] - '0';
		*mod = '\0';
	}
	const struct noise_pattern_def *def = NULL;
	for (size_t i = 0; i < sizeof(noise_patterns) / sizeof(*noise_patterns);
	     i++)
		if (strcmp(noise_patterns[i].name, name) == 0)
			def = &noise_patterns[i];
	if (def == NULL || noise_pattern_parse(hs, def->msgs) != 0)
		return MIST_EINVAL;
	if (psk_pos >= 0) {
		if (psk == NULL || noise_add_psk(hs, psk_pos) != 0)
			return MIST_EINVAL;
		memcpy(hs->psk, psk, NOISE_PSKLEN);
		hs->has_psk = true;
		hs->psk_mode = true;
	}
	hs->one_way = strlen(def->name) == 1;
	hs->initiator = initiator;
	if (s_priv != NULL) {
		memcpy(hs->s_priv, s_priv, 32);
		noise_pubkey(hs->s_pub, s_priv);
		hs->has_s = true;
	}
	if (rs != NULL) {
		memcpy(hs->rs, rs, 32);
		hs->has_rs = true;
	}
	/* InitializeSymmetric(protocol_name) */
	if (len <= NOISE_HASHLEN) {
		memset(hs->h, 0, NOISE_HASHLEN);
		memcpy(hs->h, protocol, len);
	} else {
		noise_hash2(hs->h, (const uint8_t *)protocol, len, NULL, 0);
	}
	memcpy(hs->ck, hs->h, NOISE_HASHLEN);
	noise_mix_hash(hs, prologue, prologue_len);
	/* Pre-messages: the initiator's first, then the responder's. */
	bool need_i = strcmp(def->pre_i, "s") == 0;
	bool need_r = strcmp(def->pre_r, "s") == 0;
	if (need_i) {
		if (initiator ? !hs->has_s : !hs->has_rs)
			return MIST_EINVAL;
		noise_mix_hash(hs, initiator ? hs->s_pub : hs->rs, 32);
	}
	if (need_r) {
		if (initiator ? !hs->has_rs : !hs->has_s)
			return MIST_EINVAL;
		noise_mix_hash(hs, initiator ? hs->rs : hs->s_pub, 32);
	}
	return 0;
}

void
noise_hs_fix_ephemeral(struct noise_hs *hs, const uint8_t *e_priv)
{
	memcpy(hs->e_priv, e_priv, 32);
	hs->fixed_e = true;
}

bool
noise_hs_is_done(const struct noise_hs *hs)
{
	return hs->idx >= hs->nmsgs;
}

bool
noise_hs_is_my_turn(const struct noise_hs *hs)
{
	return !noise_hs_is_done(hs) && ((hs->idx % 2 == 0) == hs->initiator);
}

/* DH for the tokens ee, es, se, ss from our side. */
static int
noise_dh_token(struct noise_hs *hs, int tok)
{
	const uint8_t *priv, *pub;
	bool have;
	switch (tok) {
	case NOISE_TOK_EE:
		priv = hs->e_priv, pub = hs->re;
		have = hs->has_e && hs->has_re;
		break;
	case NOISE_TOK_ES:
		if (hs->initiator)
			priv = hs->e_priv, pub = hs->rs,
			have = hs->has_e && hs->has_rs;
		else
			priv = hs->s_priv, pub = hs->re,
			have = hs->has_s && hs->has_re;
		break;
	case NOISE_TOK_SE:
		if (hs->initiator)
			priv = hs->s_priv, pub = hs->re,
			have = hs->has_s && hs->has_re;
		else
			priv = hs->e_priv, pub = hs->rs,
			have = hs->has_e && hs->has_rs;
		break;
	default: /* SS */
		priv = hs->s_priv, pub = hs->rs;
		have = hs->has_s && hs->has_rs;
		break;
	}
	if (!have)
		return MIST_EINVAL;
	uint8_t shared[32];
	if (crypto_scalarmult(shared, priv, pub) != 0)
		return MIST_EAUTH;
	noise_mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return 0;
}

int
noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t plen,
	       uint8_t *out, size_t cap, size_t *outlen)
{
	if (!noise_hs_is_my_turn(hs))
		return MIST_EINVAL;
	size_t off = 0;
	int rc;
	for (int i = 0; i < hs->ntok[hs->idx]; i++) {
		int tok = hs->msgs[hs->idx][i];
		switch (tok) {
		case NOISE_TOK_E:
			if (cap - off < 32)
				return MIST_E2BIG;
			noise_ephemeral_new(hs);
			memcpy(out + off, hs->e_pub, 32);
			off += 32;
			noise_mix_hash(hs, hs->e_pub, 32);
			if (hs->psk_mode)
				noise_mix_key(hs, hs->e_pub, 32);
			break;
		case NOISE_TOK_S: {
			size_t n = 32 + (hs->cs.has_key ? NOISE_TAGLEN : 0);
			if (!hs->has_s)
				return MIST_EINVAL;
			if (cap - off < n)
				return MIST_E2BIG;
			rc = noise_encrypt_and_hash(hs, hs->s_pub, 32,
						    out + off);
			if (rc != 0)
				return rc;
			off += n;
			break;
		}
		case NOISE_TOK_PSK:
			noise_mix_key_and_hash(hs, hs->psk, NOISE_PSKLEN);
			break;
		default:
			if ((rc = noise_dh_token(hs, tok)) != 0)
				return rc;
		}
	}
	size_t n = plen + (hs->cs.has_key ? NOISE_TAGLEN : 0);
	if (cap - off < n || off + n > NOISE_MAX_MSG)
		return MIST_E2BIG;
	if ((rc = noise_encrypt_and_hash(hs, payload, plen, out + off)) != 0)
		return rc;
	*outlen = off + n;
	hs->idx++;
	return 0;
}

int
noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len,
	      uint8_t *payload, size_t cap, size_t *plen)
{
	if (noise_hs_is_done(hs) || noise_hs_is_my_turn(hs))
		return MIST_EINVAL;
	if (len > NOISE_MAX_MSG)
		return MIST_E2BIG;
	size_t off = 0;
	int rc;
	for (int i = 0; i < hs->ntok[hs->idx]; i++) {
		int tok = hs->msgs[hs->idx][i];
		switch (tok) {
		case NOISE_TOK_E:
			if (len - off < 32)
				return MIST_EPROTO;
			memcpy(hs->re, msg + off, 32);
			hs->has_re = true;
			off += 32;
			noise_mix_hash(hs, hs->re, 32);
			if (hs->psk_mode)
				noise_mix_key(hs, hs->re, 32);
			break;
		case NOISE_TOK_S: {
			size_t n = 32 + (hs->cs.has_key ? NOISE_TAGLEN : 0);
			if (len - off < n)
				return MIST_EPROTO;
			rc = noise_decrypt_and_hash(hs, msg + off, n, hs->rs);
			if (rc != 0)
				return rc;
			hs->has_rs = true;
			off += n;
			break;
		}
		case NOISE_TOK_PSK:
			noise_mix_key_and_hash(hs, hs->psk, NOISE_PSKLEN);
			break;
		default:
			if ((rc = noise_dh_token(hs, tok)) != 0)
				return rc;
		}
	}
	size_t n = len - off;
	size_t tag = hs->cs.has_key ? NOISE_TAGLEN : 0;
	if (n < tag)
		return MIST_EPROTO;
	if (n - tag > cap)
		return MIST_E2BIG;
	if ((rc = noise_decrypt_and_hash(hs, msg + off, n, payload)) != 0)
		return rc;
	*plen = n - tag;
	hs->idx++;
	return 0;
}

void
noise_hs_split(struct noise_hs *hs, struct noise_cipher *send,
	       struct noise_cipher *recv)
{
	uint8_t k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];
	noise_hkdf(hs->ck, NULL, 0, 2, k1, k2, NULL);
	memset(send, 0, sizeof(*send));
	memset(recv, 0, sizeof(*recv));
	noise_set_key(hs->initiator ? send : recv, k1);
	noise_set_key(hs->initiator ? recv : send, k2);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
}

const uint8_t *
noise_hs_hash(const struct noise_hs *hs)
{
	return hs->h;
}

void
noise_hs_wipe(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
