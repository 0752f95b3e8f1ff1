/*
 * test_graph.c -- task graph bookkeeping (data/graph.c) and placement
 * decisions (data/place.c), both pure: no network, no clock.
 */
#include "data/graph.h"
#include "data/place.h"
#include "mist.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct graph g;
static int freed;

static void
on_free(void *ctx, struct gref v, const uint64_t *h, uint32_t n)
{
	(void)ctx, (void)v, (void)h, (void)n;
	freed++;
}

static void
setup(void)
{
	graph_init(&g, 2, 3);
	g.on_free = on_free;
	freed = 0;
}

static void
teardown(void)
{
	graph_destroy(&g);
}

TestSuite(graph, .init = setup, .fini = teardown);

static uint32_t
add(const struct gref *in, uint32_t nin)
{
	cr_assert_eq(graph_add(&g, 0, (const uint8_t *)"\xc0", 1, in, nin, 1), 0);
	return g.ntasks;
}

static void
run(uint32_t id, uint64_t node)
{
	cr_assert_eq(graph_pop_ready(&g), id);
	uint32_t a = graph_start(&g, id, node);
	uint64_t size = 10;
	cr_assert_eq(graph_done(&g, id, a, node, &size), 0);
}

Test(graph, tasks_become_ready_when_their_inputs_exist)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	cr_assert_eq(graph_task(&g, b)->state, G_WAITING);
	run(a, 7);
	cr_assert_eq(graph_task(&g, b)->state, G_READY);
	run(b, 8);
	cr_assert(graph_finished(&g));
	cr_assert_eq(g.count[G_DONE], 2);
}

Test(graph, inputs_must_name_earlier_tasks)
{
	struct gref bad = {1, 0};
	cr_assert_eq(graph_add(&g, 0, (const uint8_t *)"\xc0", 1, &bad, 1, 1),
		     MIST_EINVAL);
	add(NULL, 0);
	struct gref badout = {1, 5};
	cr_assert_eq(graph_add(&g, 0, (const uint8_t *)"\xc0", 1, &badout, 1, 1),
		     MIST_EINVAL);
}

Test(graph, a_stale_attempt_is_fenced_off)
{
	uint32_t a = add(NULL, 0);
	cr_assert_eq(graph_pop_ready(&g), a);
	uint32_t first = graph_start(&g, a, 1);
	graph_node_lost(&g, 1); /* re-queued */
	cr_assert_eq(graph_pop_ready(&g), a);
	uint32_t second = graph_start(&g, a, 2);
	uint64_t size = 1;
	cr_assert_eq(graph_done(&g, a, first, 1, &size), MIST_EINVAL);
	cr_assert_eq(graph_done(&g, a, second, 2, &size), 0);
	cr_assert_eq(graph_done(&g, a, second, 2, &size), MIST_EINVAL,
		     "exactly one result is accepted");
}

Test(graph, failures_are_bounded_and_propagate)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(graph_pop_ready(&g), a);
		uint32_t at = graph_start(&g, a, 1);
		graph_failed(&g, a, at, MIST_ETASK, "boom", true);
	}
	cr_assert_eq(graph_task(&g, a)->state, G_FAILED);
	cr_assert_eq(graph_task(&g, b)->state, G_FAILED);
	cr_assert(strstr(graph_task(&g, b)->error, "boom"));
	cr_assert(graph_finished(&g));
	/* a task added later on a failed input fails at once */
	uint32_t c = add(&ra, 1);
	cr_assert_eq(graph_task(&g, c)->state, G_FAILED);
}

Test(graph, a_lost_value_is_recomputed_recursively)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	struct gref rb = {b, 0};
	uint32_t c = add(&rb, 1);
	run(a, 5);
	run(b, 5);
	/* node 5 held both values and vanishes before c ran */
	graph_node_lost(&g, 5);
	cr_assert_eq(graph_task(&g, c)->state, G_WAITING);
	cr_assert_eq(graph_task(&g, b)->state, G_WAITING);
	cr_assert_eq(graph_task(&g, a)->state, G_READY);
	run(a, 6);
	run(b, 6);
	run(c, 6);
	cr_assert(graph_finished(&g));
}

static uint64_t fake_now;

static uint64_t
fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* What operators are told (JOB_STATUS): when each task entered its
 * state, the attempts failed over and the tasks recomputed -- and not
 * the attempts that then failed the task (max_losses). */
Test(graph, state_changes_are_stamped_and_recoveries_counted)
{
	g.clock = fake_clock;
	fake_now = 100;
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	cr_assert_eq(graph_task(&g, a)->since, 100, "ready at its add");
	cr_assert_eq(graph_task(&g, b)->since, 100, "waiting from its add");
	fake_now = 150;
	run(a, 5); /* done at 150 */
	cr_assert_eq(graph_task(&g, a)->since, 150);
	cr_assert_eq(graph_task(&g, b)->since, 150, "ready when a was done");
	fake_now = 200;
	cr_assert_eq(graph_pop_ready(&g), b);
	uint32_t at = graph_start(&g, b, 6);
	cr_assert_eq(graph_task(&g, b)->since, 200, "running since its start");
	cr_assert_eq(g.lost_attempts + g.recomputed, 0);
	/* node 5 (a's value) and node 6 (b's attempt) vanish */
	fake_now = 300;
	graph_node_lost(&g, 5);
	cr_assert_eq(g.recomputed, 1, "a runs again");
	graph_node_lost(&g, 6);
	cr_assert_eq(g.lost_attempts, 1, "b's attempt failed over");
	cr_assert_eq(graph_task(&g, b)->state, G_WAITING);
	cr_assert_eq(graph_task(&g, b)->since, 300);
	/* an attempt that never arrived fails over too (the lease) */
	run(a, 7);
	cr_assert_eq(graph_pop_ready(&g), b);
	at = graph_start(&g, b, 7);
	cr_assert_eq(graph_attempt_lost(&g, b, at), 0);
	cr_assert_eq(g.lost_attempts, 2);
	cr_assert_eq(graph_attempt_lost(&g, b, at), MIST_EINVAL, "fenced");
	cr_assert_eq(g.lost_attempts, 2);
	/* past max_losses (3) the task fails: not failed over */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(graph_pop_ready(&g), b);
		at = graph_start(&g, b, 8);
		cr_assert_eq(graph_attempt_lost(&g, b, at), 0);
	}
	cr_assert_eq(graph_task(&g, b)->state, G_FAILED);
	cr_assert_eq(g.lost_attempts, 3, "the fourth loss failed the task");
	cr_assert_eq(g.recomputed, 1);
}

Test(graph, values_are_freed_once_released_and_read)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	run(a, 1);
	graph_release(&g, ra);
	cr_assert_eq(freed, 0, "b still reads it");
	run(b, 1);
	cr_assert_eq(freed, 1);
	/* a released, freed value cannot be read by new tasks */
	cr_assert_eq(graph_add(&g, 0, (const uint8_t *)"\xc0", 1, &ra, 1, 1),
		     MIST_EINVAL);
}

/* A checkpoint's pin (data/ckpt.h) holds a released, read value until
 * it is unpinned; a value still needed is not freed by an unpin. */
Test(graph, a_pinned_value_is_freed_only_once_unpinned)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	run(a, 1);
	graph_pin(&g, ra);
	run(b, 1);
	graph_release(&g, ra);
	cr_assert_eq(freed, 0, "pinned");
	cr_assert(graph_value(&g, ra)->available);
	cr_assert(graph_input_ok(&g, ra));
	graph_unpin(&g, ra);
	cr_assert_eq(freed, 1);
	cr_assert(!graph_input_ok(&g, ra));
	/* unpinned while a reader is pending: freed when it is done */
	uint32_t c = add(NULL, 0);
	struct gref rc = {c, 0};
	uint32_t d = add(&rc, 1);
	run(c, 1);
	graph_pin(&g, rc);
	graph_release(&g, rc);
	graph_unpin(&g, rc);
	cr_assert_eq(freed, 1, "d still reads it");
	run(d, 1);
	cr_assert_eq(freed, 2);
	graph_unpin(&g, rc); /* twice: nothing */
	cr_assert_eq(freed, 2);
}

/* A pinned value held on a second node survives the loss of the first:
 * its readers are not recomputed past it. */
Test(graph, a_copy_on_another_node_stops_lineage)
{
	uint32_t a = add(NULL, 0);
	struct gref ra = {a, 0};
	uint32_t b = add(&ra, 1);
	struct gref rb = {b, 0};
	uint32_t c = add(&rb, 1);
	run(a, 1);
	graph_pin(&g, ra);
	graph_value_copied(&g, ra, 9); /* the checkpoint copy */
	graph_release(&g, ra);
	run(b, 1);
	graph_release(&g, rb);
	cr_assert_eq(freed, 0);
	graph_node_lost(&g, 1); /* a and b's producer: b's value is lost */
	cr_assert(graph_value(&g, ra)->available, "a's copy on node 9");
	cr_assert_eq(graph_task(&g, a)->state, G_DONE, "a is not run again");
	cr_assert_eq(graph_task(&g, b)->state, G_READY, "b is, reading a");
	cr_assert_eq(graph_task(&g, c)->state, G_WAITING);
}

/* ------------------------------------------------------------ placement */

static struct place_node fog = {.id = 1, .tier = TIER_FOG, .cores = 2,
				.speed = 1, .power = 5, .price = 0,
				.limit = 64, .exec_ms = -1};
static struct place_node cloud = {.id = 2, .tier = TIER_CLOUD, .cores = 16,
				  .speed = 3, .power = 200, .price = 1.0,
				  .limit = 64, .exec_ms = -1};

static int
choose(const char *objective, uint32_t tiers)
{
	struct place_policy p = {0, 0, 0, tiers};
	if (strcmp(objective, "time") == 0)
		p.w_time = 1;
	else if (strcmp(objective, "energy") == 0)
		p.w_energy = 1;
	else
		p.w_cost = 1;
	struct place_node n[2] = {fog, cloud};
	int i = place_choose(&p, n, 2, -1, 1, 10, 100e3, NULL);
	return i < 0 ? -1 : (int)n[i].id;
}

TestSuite(place);

Test(place, time_picks_the_fast_cloud_energy_the_frugal_fog)
{
	cr_assert_eq(choose("time", TIER_ANY), 2);
	cr_assert_eq(choose("energy", TIER_ANY), 1);
	cr_assert_eq(choose("cost", TIER_ANY), 1);
}

Test(place, tiers_restrict_the_candidates)
{
	cr_assert_eq(choose("time", TIER_FOG), 1);
	cr_assert_eq(choose("energy", TIER_CLOUD), 2);
	cr_assert_eq(choose("time", TIER_EDGE), -1);
}

Test(place, ties_go_to_data_locality_and_full_nodes_are_skipped)
{
	struct place_node a = fog, b = fog;
	b.id = 3;
	a.missing_bytes = 1000;
	b.local_bytes = 1000;
	struct place_policy p = {1, 0, 0, TIER_ANY};
	struct place_node n[2] = {a, b};
	/* 1000 bytes at 100 kB/ms is 0.01 ms: a tie, won by locality */
	cr_assert_eq(n[place_choose(&p, n, 2, -1, 1, 10, 100e3, NULL)].id, 3);
	n[1].inflight = n[1].limit;
	cr_assert_eq(n[place_choose(&p, n, 2, -1, 1, 10, 100e3, NULL)].id, 1);
	n[0].inflight = n[0].limit;
	cr_assert_eq(place_choose(&p, n, 2, -1, 1, 10, 100e3, NULL), -1);
}

Test(place, queues_push_work_to_idle_nodes)
{
	struct place_node a = fog, b = fog;
	b.id = 3;
	a.inflight = 20;
	struct place_policy p = {1, 0, 0, TIER_ANY};
	struct place_node n[2] = {a, b};
	cr_assert_eq(n[place_choose(&p, n, 2, -1, 1, 10, 100e3, NULL)].id, 3);
}

/* Every candidate counts, however many: the fastest of 3000 is the last. */
Test(place, no_candidate_is_dropped_past_a_thousand)
{
	enum { N = 3000 };
	struct place_node *n = calloc(N, sizeof(*n));
	for (int i = 0; i < N; i++) {
		n[i] = fog;
		n[i].id = (uint64_t)i + 1;
		n[i].inflight = 10; /* all busy but one */
	}
	n[N - 1].inflight = 0;
	struct place_policy p = {1, 0, 0, TIER_ANY};
	struct place_forecast f;
	int i = place_choose(&p, n, N, -1, 1, 10, 100e3, &f);
	cr_assert_eq(i, N - 1);
	cr_assert_float_eq(f.end_ms, 10, 1e-9, "an idle node: just the run");
	free(n);
}
