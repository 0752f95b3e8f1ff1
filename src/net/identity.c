#include "config.h"
#include "net/identity.h"
#include "net/noise.h"
#include "mist.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t
identity_node_id(const uint8_t pub[32])
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), pub, 32, NULL, 0);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | h[i];
	return id;
}

void
identity_node_str(char out[17], uint64_t node)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(node >> (56 - 8 * i));
	hex_encode(out, b, 8);
}

int
identity_node_parse(const char *s, uint64_t *node)
{
	uint8_t b[8];
	if (strlen(s) != 16 || hex_decode(b, 8, s) != 0)
		return MIST_EINVAL;
	*node = 0;
	for (int i = 0; i < 8; i++)
		*node = *node << 8 | b[i];
	return 0;
}

/* Reads a small text file holding 32 bytes in hex (and maybe a newline). */
static int
read_hex32(const char *path, uint8_t out[32])
{
	char text[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return MIST_EIO;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return MIST_EIO;
	text[n] = '\0';
	if (n < 64 || hex_decode(out, 32, text) != 0)
		return MIST_EPROTO;
	sodium_memzero(text, sizeof(text));
	return 0;
}

int
identity_load_or_create(const char *dir, struct identity *id)
{
	char path[4096];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create data directory %s: %s", dir,
			  strerror(errno));
		return MIST_EIO;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_KEY_FILE);
	struct stat st;
	if (stat(path, &st) == 0) {
		if (st.st_mode & 077)
			log_warn("%s is readable by others (mode %o); it "
				 "should be 0600", path, st.st_mode & 0777);
		int rc = read_hex32(path, id->priv);
		if (rc != 0) {
			log_error("cannot read node key %s: %s", path,
				  mist_strerror(rc));
			return rc;
		}
	} else {
		randombytes_buf(id->priv, 32);
		char hex[65];
		hex_encode(hex, id->priv, 32);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);
		if (fd < 0) {
			log_error("cannot create %s: %s", path, strerror(errno));
			return MIST_EIO;
		}
		hex[64] = '\n';
		ssize_t w = write(fd, hex, 65);
		int sync_rc = fsync(fd);
		close(fd);
		sodium_memzero(hex, sizeof(hex));
		if (w != 65 || sync_rc != 0) {
			unlink(path);
			return MIST_EIO;
		}
	}
	noise_pubkey(id->pub, id->priv);
	id->node = identity_node_id(id->pub);
	return 0;
}

void
identity_ephemeral(struct identity *id)
{
	noise_keypair(id->priv, id->pub);
	id->node = identity_node_id(id->pub);
}

int
cluster_key_read(const char *path, uint8_t key[32])
{
	return read_hex32(path, key);
}

void
cluster_key_generate(char out[65])
{
	uint8_t k[32];
	randombytes_buf(k, sizeof(k));
	hex_encode(out, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
}
