/*
 * test_apps.c -- the app table's pure parts (gateway/apps.c), without an
 * agent: where the master key is accepted (IPv4, IPv6, IPv4-mapped IPv6,
 * prefixes on and off byte boundaries), which key a string is, the codec's
 * bounds, and the merge rule members spread apps by (higher rev wins, a
 * tombstone always wins and is never revived, equal revs converge
 * whatever the order).
 */
#include "gateway/apps.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void
init(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(apps, .init = init);

/* An app as create makes one: defaults, id, name, fresh keys. */
static void
app_make(struct app *a, const char *id, uint64_t rev)
{
	apps_defaults(a);
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->name, sizeof(a->name), "app %s", id);
	memset(a->rest_key, 'a', 64);
	memset(a->js_key, 'b', 64);
	memset(a->client_key, 'c', 64);
	memset(a->master_key, 'd', 64);
	a->rev = rev;
	a->created = 1;
}

Test(apps, master_default_loopback)
{
	struct app a;
	app_make(&a, "x", 1);
	cr_assert(apps_master_allowed(&a, "127.0.0.1"));
	cr_assert(apps_master_allowed(&a, "127.255.3.4"));
	cr_assert(apps_master_allowed(&a, "::1"));
	cr_assert(apps_master_allowed(&a, "::ffff:127.0.0.1"),
		  "an IPv4-mapped address is its IPv4 address");
	cr_assert_not(apps_master_allowed(&a, "128.0.0.1"));
	cr_assert_not(apps_master_allowed(&a, "10.0.0.1"));
	cr_assert_not(apps_master_allowed(&a, "::2"));
	cr_assert_not(apps_master_allowed(&a, "::ffff:10.0.0.1"));
	cr_assert_not(apps_master_allowed(&a, "fe80::1"));
	cr_assert_not(apps_master_allowed(&a, "127.0.0.1/8"),
		      "a network is no address");
	cr_assert_not(apps_master_allowed(&a, ""));
	cr_assert_not(apps_master_allowed(&a, "localhost"));
	cr_assert_not(apps_master_allowed(&a, NULL));
}

Test(apps, master_nets)
{
	struct app a;
	app_make(&a, "x", 1);
	a.nnets = 0;
	cr_assert_not(apps_master_allowed(&a, "127.0.0.1"),
		      "no network: the master key is accepted nowhere");
	const char *nets[] = {"10.128.0.0/9", "2001:db8::/32",
			      "::ffff:192.168.1.0/120", "203.0.113.7"};
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(apps_net_parse(nets[i], &a.master_nets[a.nnets++]),
			     0, "%s", nets[i]);
	cr_assert(apps_master_allowed(&a, "10.200.1.1"));
	cr_assert_not(apps_master_allowed(&a, "10.127.255.255"),
		      "/9 is not /8");
	cr_assert(apps_master_allowed(&a, "2001:db8:ffff::1"));
	cr_assert_not(apps_master_allowed(&a, "2001:db9::1"));
	cr_assert(apps_master_allowed(&a, "192.168.1.77"),
		  "a mapped network is taken as IPv4 (/24)");
	cr_assert(apps_master_allowed(&a, "::ffff:192.168.1.77"));
	cr_assert_not(apps_master_allowed(&a, "192.168.2.1"));
	cr_assert(apps_master_allowed(&a, "203.0.113.7"),
		  "a bare address is its /32");
	cr_assert_not(apps_master_allowed(&a, "203.0.113.8"));
	/* /0: every address of the family, none of the other */
	a.nnets = 0;
	cr_assert_eq(apps_net_parse("0.0.0.0/0", &a.master_nets[a.nnets++]), 0);
	cr_assert(apps_master_allowed(&a, "198.51.100.1"));
	cr_assert(apps_master_allowed(&a, "::ffff:198.51.100.1"));
	cr_assert_not(apps_master_allowed(&a, "2001:db8::1"));
}

Test(apps, net_parse_bounds)
{
	struct app_net n;
	const char *bad[] = {"", "/8", "1.2.3.4/", "1.2.3.4/33", "::/129",
			     "1.2.3.4/-1", "1.2.3.4/8x", "1.2.3", "1.2.3.4.5",
			     "zz::1", "1.2.3.4/0008", "localhost"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(apps_net_parse(bad[i], &n), MIST_EINVAL, "'%s'",
			     bad[i]);
	char out[64];
	cr_assert_eq(apps_net_parse("10.1.2.3/8", &n), 0);
	apps_net_format(&n, out, sizeof(out));
	cr_assert_str_eq(out, "10.0.0.0/8", "host bits cleared");
	cr_assert_eq(apps_net_parse("2001:db8::1234/33", &n), 0);
	apps_net_format(&n, out, sizeof(out));
	cr_assert_str_eq(out, "2001:db8::/33");
	cr_assert_eq(apps_net_parse("::1", &n), 0);
	apps_net_format(&n, out, sizeof(out));
	cr_assert_str_eq(out, "::1/128");
}

Test(apps, key_kind)
{
	struct app a;
	app_make(&a, "x", 1);
	char k[80];
	memset(k, 0, sizeof(k));
	memset(k, 'a', 64);
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_REST);
	memset(k, 'b', 64);
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_JS);
	memset(k, 'c', 64);
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_CLIENT);
	memset(k, 'd', 64);
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_MASTER);
	k[63] = 'e';
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_NONE, "one digit off");
	memset(k, 'd', 65);
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_NONE, "one digit more");
	k[63] = '\0';
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_NONE, "one digit less");
	cr_assert_eq(apps_key_kind(&a, ""), APP_KEY_NONE);
	cr_assert_eq(apps_key_kind(&a, NULL), APP_KEY_NONE);
	memset(k, 'd', 64);
	k[64] = '\0';
	a.deleted = true;
	cr_assert_eq(apps_key_kind(&a, k), APP_KEY_NONE,
		     "a deleted app has no keys");
}

/* @a a packed (with keys), read back into @a out; apps_read's status. */
static int
roundtrip(const struct app *a, struct app *out, bool need_keys)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	apps_pack(&pk, a, need_keys);
	struct mp_cur c;
	mp_cur_init(&c, b.data, b.len);
	int rc = apps_read(&c, out, need_keys);
	if (rc == 0)
		cr_assert_eq(mp_cur_left(&c), 0);
	buf_destroy(&b);
	return rc;
}

Test(apps, codec)
{
	struct app a, b;
	app_make(&a, "My_app-1", 7);
	a.home = 0x1234567890abcdefull;
	a.rate = 5, a.user_rate = 6, a.ip_rate = 7, a.deadline_ms = 1234;
	a.nfunctions = 2;
	strcpy(a.functions[0], "hello");
	strcpy(a.functions[1], "world.v2");
	a.client_class_creation = true;
	a.quota_bytes = 1ull << 40;
	cr_assert_eq(roundtrip(&a, &b, true), 0);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "every field comes back");
	/* without keys: a list's map; refused where keys are needed */
	struct buf buf = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &buf, buf_msgpack_write);
	apps_pack(&pk, &a, false);
	struct mp_cur c;
	mp_cur_init(&c, buf.data, buf.len);
	cr_assert_eq(apps_read(&c, &b, true), MIST_EPROTO);
	mp_cur_init(&c, buf.data, buf.len);
	cr_assert_eq(apps_read(&c, &b, false), 0);
	cr_assert_eq(b.rest_key[0], '\0');
	buf_destroy(&buf);
	/* a deleted app travels without keys */
	a.deleted = true;
	cr_assert_eq(roundtrip(&a, &b, true), 0);
	cr_assert(b.deleted);
	cr_assert_eq(b.master_key[0], '\0');
	a.deleted = false;
	/* bounds: each refused whole */
	struct app x = a;
	x.rev = 0;
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "rev 0");
	x = a;
	x.deadline_ms = 0;
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "deadline 0");
	x.deadline_ms = APP_MAX_DEADLINE_MS + 1;
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "deadline");
	x = a;
	x.rate = APP_MAX_RATE + 1;
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "rate");
	x = a;
	x.quota_bytes = APP_MAX_QUOTA + 1;
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "quota");
	x = a;
	strcpy(x.id, "no spaces");
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "id");
	x = a;
	x.name[0] = '\0';
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "empty name");
	x = a;
	x.name[0] = '\n';
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "control byte");
	x = a;
	strcpy(x.functions[1], "a,b");
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "function name");
	x = a;
	strcpy(x.functions[1], "hello");
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "a function twice");
	x = a;
	x.master_key[3] = 'G';
	cr_assert_eq(roundtrip(&x, &b, true), MIST_EPROTO, "a key not hex");
}

Test(apps, name_and_id_bounds)
{
	char s[80];
	memset(s, 'a', sizeof(s));
	cr_assert(apps_id_valid(s, 63));
	cr_assert_not(apps_id_valid(s, 64));
	cr_assert_not(apps_id_valid(s, 0));
	cr_assert_not(apps_id_valid("a/b", 3));
	cr_assert(apps_name_valid("My App (prod) #1", 16));
	cr_assert_not(apps_name_valid(s, 64));
	cr_assert_not(apps_name_valid("tab\there", 8));
	cr_assert_not(apps_name_valid("\xc3\xa9", 2), "ASCII only");
	cr_assert(apps_fn_valid("sum.v2", 6));
	cr_assert_not(apps_fn_valid("a b", 3));
	cr_assert_not(apps_fn_valid("a/b", 3));
	cr_assert_not(apps_fn_valid(s, 64));
}

Test(apps, merge_rev)
{
	struct apps t;
	apps_init(&t, NULL);
	struct app a;
	app_make(&a, "one", 1);
	cr_assert(apps_apply(&t, &a));
	cr_assert_not(apps_apply(&t, &a), "the same app again: no change");
	cr_assert_eq(apps_count(&t), 1);
	struct app b = a;
	b.rev = 3;
	b.rate = 99;
	cr_assert(apps_apply(&t, &b), "a higher rev wins");
	cr_assert_eq(apps_get(&t, "one")->rate, 99);
	struct app c = a;
	c.rev = 2;
	c.rate = 5;
	cr_assert_not(apps_apply(&t, &c), "a lower rev loses, even later");
	cr_assert_eq(apps_get(&t, "one")->rate, 99);
	cr_assert_null(apps_get(&t, "two"));
	cr_assert_eq(apps_homed(&t, 0), 1);
	apps_destroy(&t);
}

Test(apps, merge_tombstone)
{
	struct apps t;
	apps_init(&t, NULL);
	struct app a;
	app_make(&a, "gone", 5);
	cr_assert(apps_apply(&t, &a));
	struct app del = a;
	del.rev = 1; /* a deletion made on a member that had an old copy */
	del.deleted = true;
	cr_assert(apps_apply(&t, &del), "a tombstone always wins");
	cr_assert_null(apps_get(&t, "gone"));
	cr_assert_eq(apps_count(&t), 0);
	struct app back = a;
	back.rev = 100;
	cr_assert_not(apps_apply(&t, &back), "never revived by a higher rev");
	cr_assert_null(apps_get(&t, "gone"));
	cr_assert_eq(apps_homed(&t, 0), 0);
	/* a tombstone for an id never seen is kept: its app arriving later
	 * (from a member that missed the deletion) stays dead */
	struct app ghost;
	app_make(&ghost, "ghost", 2);
	ghost.deleted = true;
	cr_assert(apps_apply(&t, &ghost));
	ghost.deleted = false;
	ghost.rev = 1;
	cr_assert_not(apps_apply(&t, &ghost));
	cr_assert_null(apps_get(&t, "ghost"));
	cr_assert_eq(apps_count(&t), 0);
	apps_destroy(&t);
}

Test(apps, merge_same_rev_converges)
{
	/* two sets of rev 2 made on two agents: both orders keep one */
	struct app base, x, y;
	app_make(&base, "race", 1);
	x = base, y = base;
	x.rev = y.rev = 2;
	x.rate = 10;
	y.rate = 20;
	struct apps t1, t2;
	apps_init(&t1, NULL);
	apps_init(&t2, NULL);
	apps_apply(&t1, &base);
	apps_apply(&t2, &base);
	apps_apply(&t1, &x);
	apps_apply(&t1, &y);
	apps_apply(&t2, &y);
	apps_apply(&t2, &x);
	cr_assert_eq(apps_get(&t1, "race")->rate, apps_get(&t2, "race")->rate);
	apps_destroy(&t1);
	apps_destroy(&t2);
}

Test(apps, many)
{
	/* more than a bucket's worth: every id found, none confused */
	struct apps t;
	apps_init(&t, NULL);
	struct app a;
	char id[APP_ID_MAX];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "app%d", i);
		app_make(&a, id, 1);
		a.rate = (uint32_t)i;
		cr_assert(apps_apply(&t, &a));
	}
	cr_assert_eq(apps_count(&t), 1000);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "app%d", i);
		const struct app *g = apps_get(&t, id);
		cr_assert_not_null(g, "%s", id);
		cr_assert_eq(g->rate, (uint32_t)i);
	}
	apps_destroy(&t);
}
