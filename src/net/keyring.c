#include "config.h"
#include "net/keyring.h"
#include "mist.h"

#include <sodium.h>
#include <string.h>

#define GOSSIP_AD "mist/gossip/1"

static void
derive(uint8_t out[32], const uint8_t key[32], const char *label)
{
	crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), key,
			   32);
}

static int
keyring_find(const struct keyring *k, const uint8_t key[32])
{
	for (int i = 0; i < k->n; i++)
		if (sodium_memcmp(k->keys[i], key, 32) == 0)
			return i;
	return -1;
}

void
keyring_init(struct keyring *k, const uint8_t key[32])
{
	memset(k, 0, sizeof(*k));
	keyring_install(k, key);
	k->primary = 0;
}

int
keyring_install(struct keyring *k, const uint8_t key[32])
{
	if (keyring_find(k, key) >= 0)
		return 0;
	if (k->n == KEYRING_MAX)
		return MIST_E2BIG;
	memcpy(k->keys[k->n], key, 32);
	derive(k->sealing[k->n], key, "mist gossip key");
	uint8_t id[32];
	derive(id, key, "mist key id");
	k->ids[k->n] = id[0];
	k->n++;
	return 0;
}

int
keyring_use(struct keyring *k, const uint8_t key[32])
{
	int i = keyring_find(k, key);
	if (i < 0)
		return MIST_ENOTFOUND;
	k->primary = i;
	return 0;
}

int
keyring_remove(struct keyring *k, const uint8_t key[32])
{
	int i = keyring_find(k, key);
	if (i < 0)
		return MIST_ENOTFOUND;
	if (i == k->primary)
		return MIST_EINVAL;
	int last = k->n - 1;
	memmove(k->keys[i], k->keys[last], 32);
	memmove(k->sealing[i], k->sealing[last], 32);
	k->ids[i] = k->ids[last];
	if (k->primary == last)
		k->primary = i;
	sodium_memzero(k->keys[last], 32);
	sodium_memzero(k->sealing[last], 32);
	k->n--;
	return 0;
}

const uint8_t *
keyring_primary(const struct keyring *k)
{
	return k->keys[k->primary];
}

void
gossip_seal(const struct keyring *k, const uint8_t *pt, size_t n, uint8_t *out)
{
	out[0] = k->ids[k->primary];
	randombytes_buf(out + 1, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + 25, NULL, pt, n, (const uint8_t *)GOSSIP_AD,
		strlen(GOSSIP_AD), NULL, out + 1, k->sealing[k->primary]);
}

int
gossip_open(const struct keyring *k, const uint8_t *p, size_t len,
	    uint8_t *out, size_t *outlen)
{
	if (len < GOSSIP_SEAL_OVERHEAD)
		return MIST_EAUTH;
	for (int i = 0; i < k->n; i++) {
		if (k->ids[i] != p[0])
			continue;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
			    out, NULL, NULL, p + 25, len - 25,
			    (const uint8_t *)GOSSIP_AD, strlen(GOSSIP_AD),
			    p + 1, k->sealing[i]) == 0) {
			*outlen = len - GOSSIP_SEAL_OVERHEAD;
			return 0;
		}
	}
	return MIST_EAUTH;
}
