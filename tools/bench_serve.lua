-- wrk script for tools/bench_serve.sh: every request is POST /embed with one sentence, cycling
-- through the "anchor" fields of a JSON Lines file (given after `--`). The captured text is still
-- JSON-escaped, so it goes into the body as it is.
local bodies = {}
local next_body = 0

function init(args)
  for line in io.lines(args[1]) do
    local text = line:match('"anchor"%s*:%s*"(.-)"%s*[,}]')
    if text then bodies[#bodies + 1] = '{"inputs": "' .. text .. '"}' end
  end
  -- Threads start at different sentences.
  next_body = math.random(#bodies)
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/embed", { ["Content-Type"] = "application/json" }, bodies[next_body])
end
