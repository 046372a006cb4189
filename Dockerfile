# Meridian's image: the one static binary and nothing else.
#
# The image is FROM scratch so that it can be built without a registry and without
# downloading Go or modules: the binary is built on the host first. `scripts/docker-cluster
# build` does it all; by hand, the build context is a directory holding
#
#   meridian        CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o meridian ./cmd/meridian
#   rootfs/data/    an empty directory (mode 0755): the store's mount point
#   rootfs/tmp/     an empty directory (mode 1777): scratch has no /tmp
#
# and `docker build -t meridian:local -f Dockerfile CONTEXT`.
#
#   docker run -p 127.0.0.1:26257:26257 -p 127.0.0.1:8080:8080 meridian:local
#
# runs an insecure single node on the volume /data; any other meridian command line can be
# given instead (see docs/deploy.md, and deploy/docker-compose.yml for a cluster).
FROM scratch

# The directories come from the context rather than from RUN mkdir, since scratch has no
# shell. They belong to the user the node runs as, so that the node can write its store and
# a named volume mounted on /data starts out owned by that user too.
COPY --chown=65532:65532 rootfs/ /
COPY meridian /meridian

# Not root: the node needs no privilege, and a store written by root would be awkward to
# remove from the host. 65532 is the conventional "nonroot" ID of distroless images.
USER 65532:65532
# Go's os.TempDir falls back to /tmp; set it anyway so that no one wonders.
ENV TMPDIR=/tmp
WORKDIR /data
VOLUME /data

# 26257: SQL, node-to-node RPC and gossip streams on TCP, gossip's failure detector on UDP.
# 8080: HTTP (/health, /_status/nodes, /_status/ranges).
EXPOSE 26257/tcp 26257/udp 8080/tcp

ENTRYPOINT ["/meridian"]
CMD ["start-single-node", "--store", "/data", "--listen-addr", "0.0.0.0:26257", "--http-addr", "0.0.0.0:8080", "--insecure"]
