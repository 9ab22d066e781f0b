# The service, with the built-in models trained and promoted at build time.
#   docker build -t customer-insight .
#   docker run -p 8000:8000 customer-insight
# Mount a volume on /srv/var (or set INSIGHT_MLFLOW_TRACKING_URI) to serve your own registry.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1 \
    INSIGHT_DATA_DIR=/srv/var \
    INSIGHT_HOST=0.0.0.0 \
    INSIGHT_PORT=8000 \
    INSIGHT_WORKERS=2

WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
COPY training ./training
COPY model_registry ./model_registry
RUN pip install --no-cache-dir .

COPY alembic.ini ./
COPY migrations ./migrations
RUN insight db upgrade \
 && insight data demands --out /srv/var/demands.csv \
 && insight train demand-classifier --data /srv/var/demands.csv \
 && insight train spam-filter --data /srv/var/demands.csv \
 && for model in churn channel-preference occupation content-preference; do insight train $model; done \
 && for model in demand-classifier spam-filter churn channel-preference occupation content-preference; do \
      insight models promote $model --version latest; done

EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["insight", "serve"]
