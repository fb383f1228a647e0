# The netem helper of the compose stack (docker-compose.yml, profile netem):
# ip and tc (iproute2, with JSON output and ifb support; busybox's are not
# enough) in toxiproxy's network namespace, idle until scenariod runs
# `docker compose exec -T netem tc ...`. The base is pinned by digest, as in
# deploy/Dockerfile; the packages come from that Alpine release's branch.
FROM alpine:3.24.1@sha256:28bd5fe8b56d1bd048e5babf5b10710ebe0bae67db86916198a6eec434943f8b
RUN apk add --no-cache iproute2-minimal iproute2-tc
CMD ["tail", "-f", "/dev/null"]
