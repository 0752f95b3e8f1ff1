#!/usr/bin/env bash
# test_pg_http.sh -- the HTTP integration tests that touch documents, with
# their agents on --docs postgres (two agents sharing one database; in
# test_http's "home killed" test the survivor keeps answering every
# write): test_http, test_triggers and test_hostapi, a few tests of each
# (every kind: CRUD, queries, users and ACLs, CLPs, batches, indexes,
# triggers, host calls), each in a fresh schema of the server MIST_TEST_PG
# names (tests/lib/pgtest.h).  Skipped (TAP "1..0 # SKIP") without it:
# contrib/check.sh starts a private server (contrib/pgtest.sh) and sets it.
set -uo pipefail
: "${MIST_BUILDDIR:?MIST_BUILDDIR must name the build tree}"
[ -n "${MIST_TEST_PG:-}" ] ||
	{ echo "1..0 # SKIP MIST_TEST_PG names no PostgreSQL server (contrib/pgtest.sh start DIR prints one; contrib/check.sh does it)"; exit 0; }
runs=(
	"test_http http/documents_through_the_home_and_through_another_gateway"
	"test_http http/queries"
	"test_http http/users_sessions_and_acls"
	"test_http http/class_level_permissions_and_the_master_key"
	"test_http http/batches"
	"test_http http/the_home_killed_loses_no_acknowledged_write"
	"test_http http/an_index_built_automatically_and_listed_by_mist_apps_indexes"
	"test_http http/roles_and_users_changing_themselves"
	"test_triggers triggers/before_save_changes_or_refuses_the_write"
	"test_triggers triggers/before_delete_sees_the_object_and_refuses"
	"test_triggers triggers/each_sub_request_of_a_batch_runs_its_triggers"
	"test_hostapi hostapi/a_function_creates_reads_updates_and_deletes_as_its_user"
	"test_hostapi hostapi/an_object_the_caller_may_not_read_is_404_inside_the_function"
	"test_hostapi hostapi/concurrent_calls_each_get_their_own_answer"
)
echo "1..${#runs[@]}"
n=0
for r in "${runs[@]}"; do
	n=$((n + 1))
	bin=${r%% *} filter=${r#* }
	out=$(env -u CRITERION_OUTPUTS "$MIST_BUILDDIR/tests/integration/$bin" --filter "$filter" 2>&1)
	if [ $? -eq 0 ] && printf '%s' "$out" | grep -q "Passing: 1 "; then
		echo "ok $n - $filter on PostgreSQL"
	else
		echo "not ok $n - $filter on PostgreSQL"
		printf '%s\n' "$out" | grep -v ' info ' | tail -30 | sed 's/^/# /'
	fi
done
