#!/usr/bin/env bash
# End-to-end check of the container image, with podman, on this machine only (host networking,
# loopback addresses, no registry pulls):
#   build the image from ./Dockerfile; check it holds no fake server; run the fake Mattermost
#   server from this clone (tests/fakes, test code that is not in the image, mounted read-only
#   into a container of the image, whose Python has the fake's dependencies); run the bot from
#   the image against it with a volume on /data; wait for the HEALTHCHECK; ask a question as
#   alice and wait for the bot's threaded reply; check the bot runs as non-root; stop the bot
#   (SIGTERM, must exit 0), post a question while it is down, start it again and check the
#   database survived, it is healthy again, it does not answer the old question twice, it
#   answers the question missed while down once, and it answers new questions.
# Prints PASS/FAIL for every check and a summary; exits non-zero on the first failure. Containers,
# the volume and temporary files are removed on exit (the image is kept: dastbot:check).
#
# Usage (as root, from the repository):  bash scripts/check-image.sh
# Needs podman and the local base image: run `bash ../shared/tools/oci-base.sh` once first.
# Environment: IMAGE (default dastbot:check), HEALTHY_TIMEOUT (60 s), REPLY_TIMEOUT (30 s),
#              KEEP=1 keeps the containers and the volume for inspection.
set -euo pipefail

cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-dastbot:check}
HEALTHY_TIMEOUT=${HEALTHY_TIMEOUT:-60}
REPLY_TIMEOUT=${REPLY_TIMEOUT:-30}
KEEP=${KEEP:-0}
RUN_ID=$$
FAKE=dastbot-check-fake-$RUN_ID
BOT=dastbot-check-bot-$RUN_ID
VOLUME=dastbot-check-data-$RUN_ID
QUESTION="voms-proxy-init says: Error: the proxy has expired"
DOWNTIME_QUESTION="pathena says my task is exhausted, what now?"
SECOND_QUESTION="rucio download fails: Cannot authenticate, details: no valid proxy found"
WORK=$(mktemp -d /tmp/dastbot-check.XXXXXX)
RESULTS=()
STARTED=0   # set once containers may exist

say() { printf '%s\n' "--- $*"; }
pass() { RESULTS+=("PASS  $1"); printf 'PASS  %s\n' "$1"; }
fail() {
    local detail="${*:2}"
    RESULTS+=("FAIL  $1${detail:+: $detail}")
    printf 'FAIL  %s\n' "$1" >&2
    if [ -n "$detail" ]; then printf '      %s\n' "$detail" >&2; fi
    exit 1
}
# Podman without systemd cannot schedule healthchecks on a timer and says so on every `run`;
# `podman healthcheck run` is used instead, so that message is noise here.
quiet_podman() { podman "$@" 2> >(grep -v 'systemd' >&2); }

summary() {
    echo
    echo "================ check-image summary ================"
    local line
    for line in "${RESULTS[@]}"; do echo "$line"; done
    local failed=0
    for line in "${RESULTS[@]}"; do case $line in FAIL*) failed=1 ;; esac; done
    if [ "$1" -eq 0 ] && [ "$failed" -eq 0 ]; then
        echo "RESULT: PASS (${#RESULTS[@]} checks)"
    else
        echo "RESULT: FAIL (exit $1)"
    fi
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ "$STARTED" = 1 ]; then
        if [ "$rc" -ne 0 ]; then
            for c in "$BOT" "$FAKE"; do
                if podman container exists "$c" 2>/dev/null; then
                    echo "--- last log lines of $c:" >&2
                    podman logs --tail 30 "$c" 2>&1 | grep -v systemd | sed 's/^/      /' >&2
                fi
            done
        fi
        if [ "$KEEP" = 1 ]; then
            echo "KEEP=1: left containers $BOT $FAKE and volume $VOLUME" >&2
        else
            podman rm -f -v -t 0 "$BOT" "$FAKE" >/dev/null 2>&1   # -v: anonymous volumes too
            podman volume rm -f "$VOLUME" >/dev/null 2>&1
        fi
    fi
    rm -rf "$WORK"
    summary "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------- prerequisites
say "prerequisites"
[ "$(id -u)" -eq 0 ] || fail "running as root" "podman here needs root: run this script as root"
command -v podman >/dev/null 2>&1 \
    || fail "podman installed" "podman not found: run 'bash ../shared/tools/oci-base.sh' first"
pass "root and podman $(podman --version | awk '{print $3}')"

# Every FROM of the Dockerfile that is not an earlier stage must already be in local storage.
bases=$(awk 'toupper($1) == "FROM" {
                 img = ""; for (i = 2; i <= NF; i++) if ($i !~ /^--/) { img = $i; break }
                 if (!(img in stage)) print img
                 for (i = 2; i < NF; i++) if (toupper($i) == "AS") stage[$(i + 1)] = 1
             }' Dockerfile | sort -u)
[ -n "$bases" ] || fail "base image named in Dockerfile" "no FROM line found in Dockerfile"
for base in $bases; do
    podman image exists "$base" \
        || fail "base image $base present" \
            "$base is not in local storage: run 'bash ../shared/tools/oci-base.sh' first"
done
pass "base image(s) present locally: $(echo $bases)"

# ------------------------------------------------------------------------------------- build
say "podman build --pull=never --format docker -t $IMAGE ."
t0=$SECONDS
if ! podman build --pull=never --format docker -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" | sed 's/^/      /' >&2
    fail "image builds"
fi
grep -E '^(dependencies|configuration OK)' "$WORK/build.log" | sed 's/^/      /' || true
pass "image builds ($((SECONDS - t0)) s)"

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
case ${user%%:*} in
    "" | 0 | root) fail "image USER is not root" "image user is '${user}'" ;;
    *) pass "image USER is not root ($user)" ;;
esac
health=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")
case $health in
    *healthz*) pass "image has a HEALTHCHECK on /healthz (docker format kept it)" ;;
    *) fail "image has a HEALTHCHECK on /healthz" "HealthCheck: $health" ;;
esac

# The fake server is test code: `pip install .` leaves it out, so the image must not have it.
fakes=$(podman run --rm --user 0 --entrypoint find "$IMAGE" / -xdev \
    \( -name "fake_mattermost*" -o -path "*/dastbot/testing" \) -print 2>/dev/null) \
    || fail "image holds no fake Mattermost server" "find failed in the image"
[ -z "$fakes" ] && pass "image holds no fake Mattermost server" \
    || fail "image holds no fake Mattermost server" "found: $(echo $fakes)"

# ---------------------------------------------------------------------- fake Mattermost server
STARTED=1
say "fake Mattermost server (tests/fakes of this clone, host network, 127.0.0.1, free port)"
# The README's command, `python -m tests.fakes.fake_mattermost`, run from a copy of the clone's
# root that holds only tests/fakes (read-only); the image's Python has aiohttp and dastbot.
quiet_podman run -d --name "$FAKE" --network host \
    -v "$PWD/tests/fakes:/clone/tests/fakes:ro" --workdir /clone \
    --entrypoint python "$IMAGE" -m tests.fakes.fake_mattermost --host 127.0.0.1 --port 0 \
    >/dev/null
summary_json=""
for _ in $(seq 1 60); do
    summary_json=$(podman logs "$FAKE" 2>/dev/null | grep -m1 '^{"url"' || true)
    [ -n "$summary_json" ] && break
    [ "$(podman inspect --format '{{.State.Running}}' "$FAKE")" = true ] \
        || fail "fake server starts" "the fake server container exited"
    sleep 0.5
done
[ -n "$summary_json" ] || fail "fake server starts" "no JSON line within 30 s"

# A small REST client, run with the image's Python inside the fake's container (host network).
cat >"$WORK/client.py" <<'PY'
import json
import shlex
import sys
import time
import urllib.request


def call(url, token, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def bot_replies(base, token, root_id, bot_id):
    thread = call(f"{base}/api/v4/posts/{root_id}/thread", token)
    return [
        p for p in thread["posts"].values()
        if p["user_id"] == bot_id and p.get("root_id") == root_id and not p.get("delete_at")
    ]


command, args = sys.argv[1], sys.argv[2:]
if command == "vars":  # the fake's summary line (stdin) -> shell assignments
    s = json.loads(sys.stdin.read())
    values = {
        "MM_URL": s["url"],
        "MM_TEAM": s["team"],
        "CHANNEL_ID": s["channels"]["dast-help"],
        "BOT_ID": s["users"]["dastbot"]["id"],
        "BOT_TOKEN": s["users"]["dastbot"]["token"],
        "ALICE_TOKEN": s["users"]["alice"]["token"],
    }
    for name, value in values.items():
        print(f"{name}={shlex.quote(value)}")
elif command == "post":  # base token channel message -> post id
    base, token, channel, message = args
    post = call(f"{base}/api/v4/posts", token, "POST", {"channel_id": channel, "message": message})
    print(post["id"])
elif command == "wait-replies":  # base token root bot min timeout -> count after waiting
    base, token, root_id, bot_id = args[:4]
    least, timeout = int(args[4]), float(args[5])
    deadline = time.monotonic() + timeout
    replies = bot_replies(base, token, root_id, bot_id)
    while len(replies) < least and time.monotonic() < deadline:
        time.sleep(0.5)
        replies = bot_replies(base, token, root_id, bot_id)
    print(len(replies))
    for p in replies if least else ():
        print("reply:", p["message"].replace("\n", " ")[:110], file=sys.stderr)
else:
    sys.exit(f"unknown command {command}")
PY
client() { podman exec -i "$FAKE" python - "$@" <"$WORK/client.py"; }
vars=$(printf '%s' "$summary_json" | podman exec -i "$FAKE" python -c \
    "$(cat "$WORK/client.py")" vars)
eval "$vars"
pass "fake Mattermost server up at $MM_URL (team $MM_TEAM, dast-help $CHANNEL_ID)"

# ------------------------------------------------------------------------------------ the bot
# A free port for the bot's HTTP endpoint on the host network, chosen by the kernel.
HTTP_PORT=$(podman exec "$FAKE" python -c \
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "bot container (host network, volume $VOLUME on /data, HTTP port $HTTP_PORT)"
podman volume create "$VOLUME" >/dev/null
# Secrets go in by name only (-e NAME), so their values are not on podman's command line.
# DASTBOT_HTTP_HOST=127.0.0.1: with host networking the image's 0.0.0.0 would listen on every
# interface of this machine; the HEALTHCHECK uses 127.0.0.1 either way.
export DASTBOT_MATTERMOST_TOKEN=$BOT_TOKEN
export DASTBOT_SLASH_TOKEN=check-slash-$RUN_ID
quiet_podman run -d --name "$BOT" --network host \
    -v "$VOLUME:/data" \
    -e DASTBOT_MATTERMOST_URL="$MM_URL" \
    -e DASTBOT_MATTERMOST_TOKEN \
    -e DASTBOT_SLASH_TOKEN \
    -e DASTBOT_TEAM="$MM_TEAM" \
    -e DASTBOT_CHANNELS=dast-help \
    -e DASTBOT_HTTP_HOST=127.0.0.1 \
    -e DASTBOT_HTTP_PORT="$HTTP_PORT" \
    -e DASTBOT_HTTP_PUBLIC_URL="http://127.0.0.1:$HTTP_PORT" \
    "$IMAGE" >/dev/null
unset DASTBOT_MATTERMOST_TOKEN DASTBOT_SLASH_TOKEN

# Bounded wait for `podman healthcheck run` (exit 0 = healthy); fails fast if the bot exits.
wait_healthy() {
    local label=$1 t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$HEALTHY_TIMEOUT" ]; do
        if [ "$(podman inspect --format '{{.State.Running}}' "$BOT")" != true ]; then
            fail "$label" "the bot container exited with code" \
                "$(podman inspect --format '{{.State.ExitCode}}' "$BOT")"
        fi
        if podman healthcheck run "$BOT" >/dev/null 2>&1; then
            pass "$label (after $((SECONDS - t0)) s, status $(podman inspect \
                --format '{{.State.Health.Status}}' "$BOT" 2>/dev/null || echo '?'))"
            return 0
        fi
        sleep 1
    done
    fail "$label" "not healthy within ${HEALTHY_TIMEOUT} s"
}
wait_healthy "bot healthy (podman healthcheck run)"

uid=$(podman exec "$BOT" id -u)
[ "$uid" != 0 ] && pass "bot process runs as uid $uid (not root)" \
    || fail "bot process is not root" "id -u in the container: $uid"

# ------------------------------------------------------------------------ question and answer
say "alice asks: $QUESTION"
QUESTION_ID=$(client post "$MM_URL" "$ALICE_TOKEN" "$CHANNEL_ID" "$QUESTION")
count=$(client wait-replies "$MM_URL" "$ALICE_TOKEN" "$QUESTION_ID" "$BOT_ID" 1 "$REPLY_TIMEOUT")
[ "$count" -ge 1 ] || fail "bot replies in the question's thread" \
    "no reply by the bot within ${REPLY_TIMEOUT} s"
# Let any follow-up of the same answer land before counting.
sleep 3
REPLIES_BEFORE=$(client wait-replies "$MM_URL" "$ALICE_TOKEN" "$QUESTION_ID" "$BOT_ID" 0 0)
[ "$REPLIES_BEFORE" -eq 1 ] \
    && pass "bot replies in the question's thread (exactly 1 reply, root_id = question)" \
    || fail "bot replies exactly once" "$REPLIES_BEFORE bot replies in the thread"

podman exec "$BOT" test -s /data/dastbot.db \
    && pass "database written to the volume: /data/dastbot.db ($(podman exec "$BOT" \
        stat -c '%s bytes, owner %u' /data/dastbot.db))" \
    || fail "database on the volume" "/data/dastbot.db is missing or empty"

# -------------------------------------------------------------------------------- restart
say "restart: podman stop (SIGTERM) + podman start, same container and volume"
t0=$SECONDS
quiet_podman stop -t 20 "$BOT" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$BOT")
[ "$code" -eq 0 ] && pass "bot stops cleanly on SIGTERM (exit 0 after $((SECONDS - t0)) s)" \
    || fail "bot stops cleanly on SIGTERM" "exit code $code (137 = killed after the timeout)"
mountpoint=$(podman volume inspect --format '{{.Mountpoint}}' "$VOLUME")
[ -s "$mountpoint/dastbot.db" ] \
    && pass "database file is in the named volume while the bot is stopped ($mountpoint)" \
    || fail "database file in the volume" "$mountpoint/dastbot.db missing"
say "while the bot is down, alice asks: $DOWNTIME_QUESTION"
DOWNTIME_ID=$(client post "$MM_URL" "$ALICE_TOKEN" "$CHANNEL_ID" "$DOWNTIME_QUESTION")
quiet_podman start "$BOT" >/dev/null
wait_healthy "bot healthy again after the restart"

asked=$(podman exec "$BOT" python -c "import sqlite3; \
print(sqlite3.connect('/data/dastbot.db').execute( \
'SELECT COUNT(*) FROM questions WHERE thread_id = ?', ('$QUESTION_ID',)).fetchone()[0])")
[ "$asked" = 1 ] && pass "the question survived the restart in the database (questions row)" \
    || fail "question kept in the database" "rows for the question: $asked"

# The bot catches up on missed posts after (re)connecting: give it time, then count again.
sleep 5
after=$(client wait-replies "$MM_URL" "$ALICE_TOKEN" "$QUESTION_ID" "$BOT_ID" 0 0)
[ "$after" -eq "$REPLIES_BEFORE" ] \
    && pass "old question not answered twice after the restart ($after bot reply in the thread)" \
    || fail "old question not answered twice" "bot replies: $REPLIES_BEFORE before, $after after"

count=$(client wait-replies "$MM_URL" "$ALICE_TOKEN" "$DOWNTIME_ID" "$BOT_ID" 1 "$REPLY_TIMEOUT")
[ "$count" -eq 1 ] \
    && pass "question posted while the bot was down answered once after the restart (catch-up)" \
    || fail "question posted during the downtime answered once" "bot replies: $count"

say "alice asks again: $SECOND_QUESTION"
SECOND_ID=$(client post "$MM_URL" "$ALICE_TOKEN" "$CHANNEL_ID" "$SECOND_QUESTION")
count=$(client wait-replies "$MM_URL" "$ALICE_TOKEN" "$SECOND_ID" "$BOT_ID" 1 "$REPLY_TIMEOUT")
[ "$count" -ge 1 ] && pass "after the restart the bot answers a new question ($count reply)" \
    || fail "bot answers after the restart" "no reply within ${REPLY_TIMEOUT} s"

if podman logs "$BOT" 2>&1 | grep -q 'Traceback'; then
    fail "no tracebacks in the bot's log" "$(podman logs "$BOT" 2>&1 | grep -m3 -A3 Traceback)"
fi
pass "no tracebacks in the bot's log"
