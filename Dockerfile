# The one Cairn image: every role runs it (`cairn fe`, `cairn cn`, `cairn operator`, `cairn restore`).
# Its install step is scripts/install, the script CI runs, so the image holds exactly the locked
# versions (requirements.lock) the tests ran against. Build: docker build -t cairn:latest .
FROM python:3.11-slim-bookworm AS build
WORKDIR /opt/cairn
COPY requirements.lock pyproject.toml README.md ./
COPY scripts/install scripts/install
COPY src src
# Runtime only: the same venv (.venv), none of the tools the tests drive (mysql, JDK, node, promtool).
RUN CAIRN_INSTALL_RUNTIME_ONLY=1 ./scripts/install \
    && find .venv -name __pycache__ -type d -prune -exec rm -rf {} + \
    && rm -rf /root/.cache

FROM python:3.11-slim-bookworm
# libmariadb3: the shared library of the mysqlclient wheel built above. Not pinned: bookworm's
# security updates replace the version, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 starrocks \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /opt/starrocks starrocks \
    && mkdir -p /opt/starrocks/fe/conf /opt/starrocks/fe/meta /opt/starrocks/fe/log \
                /opt/starrocks/cn/conf /opt/starrocks/cn/storage /opt/starrocks/cn/log /etc/cairn \
    && chown -R 1000:0 /opt/starrocks \
    && chmod -R g+rwX /opt/starrocks
COPY --from=build /opt/cairn /opt/cairn
# What `cairn operator --ignored-fields` reads (deploy/base/operator-deployment.yaml).
COPY deploy/crd/ignored-fields.txt /etc/cairn/ignored-fields.txt
ENV PATH=/opt/cairn/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# StarRocks' layout, so that StarRocks manifests' mount paths (fe.conf, meta, cluster_snapshot.yaml) fit.
WORKDIR /opt/starrocks
USER 1000:1000
EXPOSE 8030 9020 9030 9010 9060 8040 9050 8060
ENTRYPOINT ["cairn"]
CMD ["--help"]
