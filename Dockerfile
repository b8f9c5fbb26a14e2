# The gateway in the shape of upstream's prom/pushgateway image: /bin/pushgateway run as
# nobody (65534) in the working directory /pushgateway, so compose files and Helm values
# written for the original work with only the image changed (relative paths such as
# --persistence.file=metrics.bak land in /pushgateway).
#
# Built FROM scratch around a statically linked binary: do not run `docker build` on the
# repository; scripts/build-image.sh builds the binary, assembles the build context
# (the binary, an empty /pushgateway, /tmp and /etc/nsswitch.conf) and then builds this file.
FROM scratch

# Owned by root: the gateway can run it, not replace it.
COPY pushgateway /bin/pushgateway
# Owned by 65534, so a fresh named volume mounted on /pushgateway starts out writable by it.
COPY --chown=65534:65534 workdir/ /pushgateway/
# /tmp (mode 1777, for SQLite's temporary files) and /etc/nsswitch.conf (host names from
# /etc/hosts, then DNS).
COPY rootfs/ /

ARG VERSION=unknown
ARG SOURCE=
ARG REVISION=
LABEL org.opencontainers.image.title="pushgateway-sqlite" \
      org.opencontainers.image.description="A wire-compatible Prometheus Pushgateway that keeps every pushed group durably in SQLite" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"

EXPOSE 9091
WORKDIR /pushgateway
USER 65534
ENTRYPOINT ["/bin/pushgateway"]
