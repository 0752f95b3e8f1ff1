%% msgbench.erl -- the Erlang/OTP side of contrib/bench/link_vs_erlang.sh.
%%
%% The same exchange mist's `mist ping` performs, between two distributed
%% Erlang nodes on loopback (plaintext distribution over TCP):
%%   flood:   N one-way messages of Size bytes to a sink process, in windows
%%            of 1024 closed by a sync request, 4 windows in flight;
%%   latency: N sequential request/response round trips of Size bytes, each
%%            reply checked against what was sent.
-module(msgbench).
-export([serve/0, run/3]).

-define(WINDOW, 1024).
-define(WINDOWS, 4).

serve() ->
    register(sink, spawn(fun() -> sink(0) end)),
    register(echo, spawn(fun echo/0)),
    receive stop -> ok end.

sink(N) ->
    receive
        {msg, _Bin} -> sink(N + 1);
        {sync, From, Ref} -> From ! {Ref, N}, sink(N)
    end.

echo() ->
    receive
        {echo, From, Bin} -> From ! {reply, Bin}, echo()
    end.

run(Node, N, Size) ->
    pong = net_adm:ping(Node),
    Bin = binary:copy(<<7>>, Size),
    Sink = {sink, Node},
    Echo = {echo, Node},
    %% warm up the connection
    flood(Sink, 10000, Bin),
    T0 = erlang:monotonic_time(nanosecond),
    flood(Sink, N, Bin),
    T1 = erlang:monotonic_time(nanosecond),
    Rate = N * 1000000000 div max(1, T1 - T0),
    L = N div 50,
    Rtts = lists:sort([rtt(Echo, Bin) || _ <- lists:seq(1, L)]),
    P50 = lists:nth(max(1, L div 2), Rtts),
    Avg = lists:sum(Rtts) div L,
    io:format("{\"flood_rate\":~b,\"latency_count\":~b,\"p50_ns\":~b,\"avg_ns\":~b}~n",
              [Rate, L, P50, Avg]).

rtt(Echo, Bin) ->
    T0 = erlang:monotonic_time(nanosecond),
    Echo ! {echo, self(), Bin},
    receive {reply, Bin} -> ok end,
    erlang:monotonic_time(nanosecond) - T0.

flood(Sink, N, Bin) -> flood(Sink, N, Bin, 0, 0).

flood(_Sink, N, _Bin, Sent, 0) when Sent >= N -> ok;
flood(Sink, N, Bin, Sent, Out) when Sent < N, Out < ?WINDOWS ->
    W = min(?WINDOW, N - Sent),
    [Sink ! {msg, Bin} || _ <- lists:seq(1, W)],
    Sink ! {sync, self(), make_ref()},
    flood(Sink, N, Bin, Sent + W, Out + 1);
flood(Sink, N, Bin, Sent, Out) ->
    receive {_Ref, _Count} -> flood(Sink, N, Bin, Sent, Out - 1) end.
