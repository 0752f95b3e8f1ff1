/*
 * test_noise.c -- the Noise engine replayed against published vectors, byte
 * for byte, and the failure cases a link relies on.
 *
 * The vector file defaults to tests/vectors/noise/cacophony-25519-
 * chachapoly-blake2b.json in the source tree (found through SRCDIR, so
 * `make distcheck` reads the copy in the distribution); MIST_NOISE_VECTORS
 * points at another file in the same format.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mist.h"
#include "net/noise.h"
#include "testutil.h"

static const char *
vectors_path(void)
{
	const char *p = getenv("MIST_NOISE_VECTORS");
	return p ? p : SRCDIR "/tests/vectors/noise/cacophony-25519-chachapoly-blake2b.json";
}

static uint8_t *
field(const struct json *v, const char *key, size_t *len)
{
	const struct json *f = json_get(v, key);
	if (f == NULL || f->type != JSON_STR)
		return NULL;
	return tu_unhex(f->str, len);
}

static uint8_t *
first_psk(const struct json *v, const char *key)
{
	const struct json *a = json_get(v, key);
	if (a == NULL || a->type != JSON_ARR || a->n == 0)
		return NULL;
	cr_assert_eq(a->n, 1, "only single-psk patterns are in the suite");
	size_t n;
	uint8_t *psk = tu_unhex(a->kids[0]->str, &n);
	cr_assert_eq(n, 32);
	return psk;
}

/* Replays one vector; returns the number of messages checked. */
static size_t
replay(const struct json *v)
{
	const char *name = json_get(v, "protocol_name")->str;
	size_t n, ipl, rpl;
	uint8_t *ipro = field(v, "init_prologue", &ipl);
	uint8_t *rpro = field(v, "resp_prologue", &rpl);
	uint8_t *is = field(v, "init_static", &n);
	uint8_t *rs = field(v, "resp_static", &n);
	uint8_t *irs = field(v, "init_remote_static", &n);
	uint8_t *rrs = field(v, "resp_remote_static", &n);
	uint8_t *ie = field(v, "init_ephemeral", &n);
	uint8_t *re = field(v, "resp_ephemeral", &n);
	uint8_t *ipsk = first_psk(v, "init_psks");
	uint8_t *rpsk = first_psk(v, "resp_psks");
	size_t hlen;
	uint8_t *hash = field(v, "handshake_hash", &hlen);

	struct noise_hs ini, res;
	cr_assert_eq(noise_hs_init(&ini, name, true, ipro, ipl, is, irs, ipsk),
		     0, "%s: initiator init", name);
	cr_assert_eq(noise_hs_init(&res, name, false, rpro, rpl, rs, rrs, rpsk),
		     0, "%s: responder init", name);
	if (ie)
		noise_hs_fix_ephemeral(&ini, ie);
	if (re)
		noise_hs_fix_ephemeral(&res, re);

	const struct json *msgs = json_get(v, "messages");
	struct noise_cipher i_send, i_recv, r_send, r_recv;
	size_t i;
	for (i = 0; i < msgs->n; i++) {
		size_t pl, cl, outlen, gotlen;
		uint8_t *payload = field(msgs->kids[i], "payload", &pl);
		uint8_t *ct = field(msgs->kids[i], "ciphertext", &cl);
		uint8_t out[NOISE_MAX_MSG], got[NOISE_MAX_MSG];
		bool from_init = ini.one_way || i % 2 == 0;
		if (!noise_hs_is_done(&ini)) {
			struct noise_hs *w = from_init ? &ini : &res;
			struct noise_hs *r = from_init ? &res : &ini;
			cr_assert_eq(noise_hs_write(w, payload, pl, out,
						    sizeof(out), &outlen), 0,
				     "%s: write message %zu", name, i);
			cr_assert_eq(outlen, cl, "%s: message %zu length", name, i);
			cr_assert_eq(memcmp(out, ct, cl), 0,
				     "%s: message %zu bytes", name, i);
			cr_assert_eq(noise_hs_read(r, out, outlen, got,
						   sizeof(got), &gotlen), 0,
				     "%s: read message %zu", name, i);
			cr_assert_eq(gotlen, pl);
			cr_assert_eq(memcmp(got, payload, pl), 0);
			if (noise_hs_is_done(&ini)) {
				cr_assert(noise_hs_is_done(&res));
				cr_assert_eq(hlen, NOISE_HASHLEN);
				cr_assert_eq(memcmp(noise_hs_hash(&ini), hash,
						    hlen), 0,
					     "%s: initiator handshake hash", name);
				cr_assert_eq(memcmp(noise_hs_hash(&res), hash,
						    hlen), 0,
					     "%s: responder handshake hash", name);
				noise_hs_split(&ini, &i_send, &i_recv);
				noise_hs_split(&res, &r_send, &r_recv);
			}
		} else {
			struct noise_cipher *w = from_init ? &i_send : &r_send;
			struct noise_cipher *r = from_init ? &r_recv : &i_recv;
			cr_assert_eq(noise_cipher_encrypt(w, NULL, 0, payload,
							  pl, out), 0);
			cr_assert_eq(pl + NOISE_TAGLEN, cl,
				     "%s: transport %zu length", name, i);
			cr_assert_eq(memcmp(out, ct, cl), 0,
				     "%s: transport message %zu bytes", name, i);
			cr_assert_eq(noise_cipher_decrypt(r, NULL, 0, out, cl,
							  got), 0);
			cr_assert_eq(memcmp(got, payload, pl), 0);
		}
		free(payload);
		free(ct);
	}
	cr_assert(noise_hs_is_done(&ini), "%s: handshake incomplete", name);
	free(ipro), free(rpro), free(is), free(rs), free(irs), free(rrs);
	free(ie), free(re), free(ipsk), free(rpsk), free(hash);
	return i;
}

Test(noise, replays_every_vector)
{
	cr_assert_eq(sodium_init() >= 0, 1);
	struct json *doc = json_load_file(vectors_path());
	cr_assert_not_null(doc, "cannot read vectors at %s (set MIST_NOISE_VECTORS)",
			   vectors_path());
	const struct json *vs = json_get(doc, "vectors");
	cr_assert_not_null(vs);
	size_t vectors = 0, messages = 0, xxpsk3 = 0;
	for (size_t i = 0; i < vs->n; i++) {
		const char *name = json_get(vs->kids[i], "protocol_name")->str;
		if (strstr(name, "_25519_ChaChaPoly_BLAKE2b") == NULL)
			continue; /* another cipher suite in a foreign file */
		messages += replay(vs->kids[i]);
		vectors++;
		if (strcmp(name, "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b") == 0)
			xxpsk3++;
	}
	cr_log_info("replayed %zu vectors, %zu messages", vectors, messages);
	cr_assert_gt(vectors, 0, "no vector of our cipher suite in the file");
	if (strstr(vectors_path(), "cacophony-25519-chachapoly-blake2b.json")) {
		cr_assert_eq(vectors, 59, "the cacophony file holds 59 vectors");
		cr_assert_eq(xxpsk3, 1);
	}
	json_free(doc);
}

static void
handshake_xxpsk3(const uint8_t *psk_i, const uint8_t *psk_r, int expect_msg3)
{
	uint8_t si[32], pi[32], sr[32], pr[32];
	noise_keypair(si, pi);
	noise_keypair(sr, pr);
	struct noise_hs a, b;
	const char *proto = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b";
	cr_assert_eq(noise_hs_init(&a, proto, true, (const uint8_t *)"p", 1, si,
				   NULL, psk_i), 0);
	cr_assert_eq(noise_hs_init(&b, proto, false, (const uint8_t *)"p", 1, sr,
				   NULL, psk_r), 0);
	uint8_t m[256], p[256];
	size_t ml, pl;
	cr_assert_eq(noise_hs_write(&a, NULL, 0, m, sizeof(m), &ml), 0);
	cr_assert_eq(noise_hs_read(&b, m, ml, p, sizeof(p), &pl), 0);
	cr_assert_eq(noise_hs_write(&b, NULL, 0, m, sizeof(m), &ml), 0);
	cr_assert_eq(noise_hs_read(&a, m, ml, p, sizeof(p), &pl), 0);
	cr_assert_eq(memcmp(a.rs, pr, 32), 0, "initiator learns responder key");
	cr_assert_eq(noise_hs_write(&a, NULL, 0, m, sizeof(m), &ml), 0);
	cr_assert_eq(noise_hs_read(&b, m, ml, p, sizeof(p), &pl), expect_msg3);
}

Test(noise, wrong_psk_fails_the_third_message)
{
	uint8_t k1[32], k2[32];
	randombytes_buf(k1, 32);
	randombytes_buf(k2, 32);
	handshake_xxpsk3(k1, k1, 0);
	handshake_xxpsk3(k1, k2, MIST_EAUTH);
}

Test(noise, tampered_and_replayed_transport_frames_fail)
{
	struct noise_cipher a = {.has_key = true}, b = {.has_key = true};
	randombytes_buf(a.k, 32);
	memcpy(b.k, a.k, 32);
	uint8_t ct[64], pt[64], ct2[64];
	cr_assert_eq(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"hello",
					  5, ct), 0);
	memcpy(ct2, ct, 21);
	ct2[3] ^= 0x10; /* flipped bit */
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct2, 21, pt), MIST_EAUTH);
	cr_assert_eq(b.n, 0, "a failed decryption does not advance the nonce");
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct, 21, pt), 0);
	cr_assert_eq(memcmp(pt, "hello", 5), 0);
	/* the same frame again: nonce 1 now, so it is refused */
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct, 21, pt), MIST_EAUTH);
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct, 10, pt), MIST_EAUTH);
}

Test(noise, rekey_keeps_both_sides_in_step)
{
	struct noise_cipher a = {.has_key = true}, b = {.has_key = true};
	randombytes_buf(a.k, 32);
	memcpy(b.k, a.k, 32);
	uint8_t ct[32], pt[32], old[32];
	memcpy(old, a.k, 32);
	noise_cipher_rekey(&a);
	cr_assert_neq(memcmp(old, a.k, 32), 0);
	cr_assert_eq(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"x", 1, ct), 0);
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct, 17, pt), MIST_EAUTH,
		     "old key must not decrypt after rekey");
	noise_cipher_rekey(&b);
	cr_assert_eq(noise_cipher_decrypt(&b, NULL, 0, ct, 17, pt), 0);
}

Test(noise, unknown_patterns_and_missing_keys_are_refused)
{
	struct noise_hs hs;
	cr_assert_eq(noise_hs_init(&hs, "Noise_QQ_25519_ChaChaPoly_BLAKE2b",
				   true, NULL, 0, NULL, NULL, NULL), MIST_EINVAL);
	cr_assert_eq(noise_hs_init(&hs, "Noise_XX_448_AESGCM_SHA512", true,
				   NULL, 0, NULL, NULL, NULL), MIST_EINVAL);
	cr_assert_eq(noise_hs_init(&hs, "Noise_NK_25519_ChaChaPoly_BLAKE2b",
				   true, NULL, 0, NULL, NULL, NULL), MIST_EINVAL,
		     "NK needs the responder's static key");
	cr_assert_eq(noise_hs_init(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b",
				   true, NULL, 0, NULL, NULL, NULL), MIST_EINVAL,
		     "psk patterns need a psk");
}
