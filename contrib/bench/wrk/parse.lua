-- wrk script for the HTTP benchmarks (contrib/bench/http.sh): one fixed
-- request, described by the environment, so one script serves every row.
--
--   WRK_METHOD    GET (default) or POST
--   WRK_BODY      the request body (POST), sent with Content-Type: application/json
--   WRK_CLOSE     "1": send Connection: close (one request per connection;
--                 wrk reconnects after each answer)
--   PARSE_APP_ID, PARSE_REST_KEY, PARSE_SESSION
--                 the X-Parse-Application-Id, X-Parse-REST-API-Key and
--                 X-Parse-Session-Token headers, each sent only if set
--
-- No response() callback: a per-answer Lua call would cost wrk CPU on the
-- cores it shares with the server.  http.sh checks each answer's body with
-- curl before the run and wrk's "Non-2xx" count after it.

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

wrk.method = env("WRK_METHOD") or "GET"
local body = env("WRK_BODY")
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if env("WRK_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end
local headers = {
  ["X-Parse-Application-Id"] = env("PARSE_APP_ID"),
  ["X-Parse-REST-API-Key"] = env("PARSE_REST_KEY"),
  ["X-Parse-Session-Token"] = env("PARSE_SESSION"),
}
for k, v in pairs(headers) do
  wrk.headers[k] = v
end
